//! Figures of a run: the loss plot (`losses.png`), a generic line plot for metrics against
//! steps, and the animated GIF of the fixed-noise sample grids (`samples/progress.gif`).
//!
//! Plots are drawn with plotters' bitmap backend into memory and labelled with DejaVu Sans,
//! which is compiled in (the `dejavu` crate), so no system font or fontconfig is needed. Every
//! file is encoded in memory and then written atomically.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::train::StepStats;

/// Size of the loss plot, pixels.
pub const LOSS_PLOT_SIZE: (u32, u32) = (1000, 750);
/// Size of a [`plot_series`] plot, pixels.
pub const SERIES_PLOT_SIZE: (u32, u32) = (900, 560);
/// Time each GIF frame is shown, milliseconds.
pub const GIF_FRAME_MS: u32 = 200;
/// Time the last GIF frame is shown, milliseconds.
pub const GIF_LAST_FRAME_MS: u32 = 2000;
/// Most frames in the GIF: longer runs keep evenly spaced grids, always the first and last.
pub const GIF_MAX_FRAMES: usize = 60;
/// The family name the bundled font is registered under.
const FONT: &str = "sans-serif";

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Why a figure could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing failed (plotters' message).
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The figure's file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An image could not be encoded or decoded.
    #[error("{path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The codec's error.
        source: image::ImageError,
    },
    /// Sample grids of different sizes cannot be frames of one GIF.
    #[error("{path} is {found:?} pixels but the first frame is {expected:?}")]
    FrameSize {
        /// The odd frame.
        path: PathBuf,
        /// Size of the first frame.
        expected: (u32, u32),
        /// Size of this one.
        found: (u32, u32),
    },
    /// Reading or writing failed (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Registers the bundled font with plotters, once per process.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the bundled DejaVu Sans font does not parse".to_string())
        })
        .clone()
}

/// Draws the loss plot of `history` to `path` (PNG, atomically): D and G loss against the step,
/// raw and smoothed, on top; D's accuracy on real and on fake images below.
pub fn plot_losses(history: &[StepStats], path: &Path) -> Result<(), PlotError> {
    let png = render(path, LOSS_PLOT_SIZE, |root| draw_losses(history, root))?;
    write_png_atomic(&png, path)
}

/// Draws named `(x, y)` series as lines with points on one chart to `path` (PNG, atomically),
/// with a legend. Non-finite points are left out; the axes fit the data.
///
/// ```no_run
/// # fn main() -> Result<(), gan_trainer::plot::PlotError> {
/// let fd = vec![(1000.0, 85.2), (2000.0, 61.0), (3000.0, 48.7)];
/// gan_trainer::plot::plot_series("FD against steps", "step", "FD", &[("FD", fd)],
///     "out/fd.png".as_ref())?;
/// # Ok(()) }
/// ```
pub fn plot_series<S: AsRef<str>>(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(S, Vec<(f64, f64)>)],
    path: &Path,
) -> Result<(), PlotError> {
    let png = render(path, SERIES_PLOT_SIZE, |root| {
        let lines: Vec<Line> = series
            .iter()
            .enumerate()
            .map(|(i, (name, pts))| Line {
                name: name.as_ref().to_string(),
                points: finite(pts),
                color: PALETTE[i % PALETTE.len()],
                width: 2,
                markers: true,
            })
            .collect();
        draw_panel(root, title, x_label, y_label, &lines, None)
    })?;
    write_png_atomic(&png, path)
}

/// One line of a panel.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    markers: bool,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Renders a figure of `size` into RGB bytes with `draw`, then encodes it as PNG.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<Vec<u8>, PlotError> {
    let fail = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    ensure_font().map_err(fail)?;
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &rgb,
        size.0,
        size.1,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|source| PlotError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(png)
}

fn write_png_atomic(png: &[u8], path: &Path) -> Result<(), PlotError> {
    gan_runtime::write_atomic(path, |w| w.write_all(png))?;
    Ok(())
}

fn draw_losses(history: &[StepStats], root: &DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult {
    let (top, bottom) = root.split_vertically(LOSS_PLOT_SIZE.1 * 62 / 100);
    let series = |f: fn(&StepStats) -> f32| -> Vec<(f64, f64)> {
        finite(
            &history
                .iter()
                .map(|s| (s.step as f64, f(s) as f64))
                .collect::<Vec<_>>(),
        )
    };
    let pair = |name: &str, pts: Vec<(f64, f64)>, color: RGBColor| {
        let window = smoothing_window(pts.len());
        let smooth = Line {
            name: if window > 1 {
                format!("{name} (mean of {window} steps)")
            } else {
                name.to_string()
            },
            points: moving_average(&pts, window),
            color,
            width: 2,
            markers: false,
        };
        let raw = Line {
            name: String::new(), // the smoothed line carries the legend entry
            points: thin(&pts, 4000),
            color: mix_with_white(color, 0.6),
            width: 1,
            markers: false,
        };
        [raw, smooth]
    };
    let [d_raw, d_smooth] = pair("D loss", series(|s| s.d_loss), PALETTE[0]);
    let [g_raw, g_smooth] = pair("G loss", series(|s| s.g_loss), PALETTE[1]);
    let losses = [d_raw, g_raw, d_smooth, g_smooth];
    let title = match history.last() {
        Some(s) => format!(
            "Losses (step {}: D {:.3}, G {:.3})",
            s.step, s.d_loss, s.g_loss
        ),
        None => "Losses (no steps yet)".to_string(),
    };
    draw_panel(&top, &title, "step", "loss", &losses, None)?;
    let [r_raw, r_smooth] = pair("D(real) correct", series(|s| s.d_acc_real), PALETTE[2]);
    let [f_raw, f_smooth] = pair("D(fake) correct", series(|s| s.d_acc_fake), PALETTE[3]);
    let acc = [r_raw, f_raw, r_smooth, f_smooth];
    draw_panel(
        &bottom,
        "Discriminator accuracy",
        "step",
        "fraction",
        &acc,
        Some((0.0, 1.0)),
    )
}

/// Draws one chart of `lines` filling `area`; `y_fixed` pins the y range, else it fits the
/// data (the middle 99% of it, so one wild early step does not flatten the rest; points
/// outside are drawn on the border).
fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Line],
    y_fixed: Option<(f64, f64)>,
) -> DrawResult {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    if !(x0.is_finite() && x1.is_finite()) {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let (y0, y1) = match y_fixed {
        Some(r) => r,
        None => {
            let mut ys: Vec<f64> = all().map(|p| p.1).collect();
            ys.sort_by(f64::total_cmp);
            let (lo, hi) = if ys.is_empty() {
                (0.0, 1.0)
            } else {
                let q = |f: f64| ys[((ys.len() - 1) as f64 * f).round() as usize];
                if ys.len() >= 200 {
                    (q(0.005), q(0.995))
                } else {
                    (ys[0], ys[ys.len() - 1])
                }
            };
            let pad = ((hi - lo) * 0.06).max(1e-3 * hi.abs().max(1.0));
            (lo - pad, hi + pad)
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .margin_right(36)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .max_light_lines(2)
        .x_label_formatter(&|x| format_tick(*x, x1 - x0))
        .y_label_formatter(&|y| format_tick(*y, y1 - y0))
        .draw()?;
    let clamp = |p: &(f64, f64)| (p.0, p.1.clamp(y0, y1));
    for line in lines {
        let style = ShapeStyle::from(&line.color).stroke_width(line.width);
        let color = line.color;
        let drawn = chart.draw_series(LineSeries::new(line.points.iter().map(clamp), style))?;
        if !line.name.is_empty() {
            drawn.label(line.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        }
        if line.markers {
            chart.draw_series(
                line.points
                    .iter()
                    .map(|p| Circle::new(clamp(p), 3, color.filled())),
            )?;
        }
    }
    if lines.iter().any(|l| !l.name.is_empty()) {
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

/// A tick label with as many decimals as a range of `span` needs (none for steps).
fn format_tick(v: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else {
        (2.0 - span.abs().max(1e-9).log10().floor()).clamp(1.0, 6.0) as usize
    };
    format!("{v:.decimals$}")
}

/// The points with both coordinates finite.
fn finite(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect()
}

/// Moving-average window for `n` points: about a fiftieth of the run, odd, 1 to 501.
fn smoothing_window(n: usize) -> usize {
    ((n / 50).clamp(1, 501)) | 1
}

/// Centred moving average of the y values over `window` points (shorter at the ends).
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let half = window / 2;
    let mut prefix = Vec::with_capacity(points.len() + 1);
    prefix.push(0.0);
    for p in points {
        prefix.push(prefix[prefix.len() - 1] + p.1);
    }
    (0..points.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(points.len());
            (points[i].0, (prefix[hi] - prefix[lo]) / (hi - lo) as f64)
        })
        .collect()
}

/// At most `max` points, evenly spaced, keeping the last.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(max);
    let mut out: Vec<_> = points.iter().copied().step_by(stride).collect();
    if let (Some(last), Some(kept)) = (points.last(), out.last()) {
        if last != kept {
            out.push(*last);
        }
    }
    out
}

fn mix_with_white(c: RGBColor, amount: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * amount).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Removes the sample grids `out_dir/samples/step_NNNNNN.png` past step `keep_up_to` (all of
/// them for `None`): grids an earlier run left in the same `--out`. A fresh run passes `None`, a
/// resumed one its checkpoint's step (grids after it are redone). Without this,
/// [`write_progress_gif`] would animate another run's grids, or fail on their size. Returns how
/// many were removed.
pub fn remove_stale_grids(out_dir: &Path, keep_up_to: Option<u64>) -> Result<usize, PlotError> {
    let dir = out_dir.join("samples");
    if !dir.is_dir() {
        return Ok(0);
    }
    let mut removed = 0;
    for (step, path) in sample_grids(&dir)? {
        if keep_up_to.is_none_or(|keep| step > keep) {
            std::fs::remove_file(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot remove {}: {e}", path.display()))
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The sample grids `dir/step_NNNNNN.png`, sorted by step.
pub fn sample_grids(dir: &Path) -> Result<Vec<(u64, PathBuf)>, PlotError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot read {}: {e}", dir.display()))
    })?;
    let mut grids = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let step = name
            .strip_prefix("step_")
            .and_then(|s| s.strip_suffix(".png"))
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(step) = step {
            grids.push((step, entry.path()));
        }
    }
    grids.sort();
    Ok(grids)
}

/// Assembles the sample grids `out_dir/samples/step_*.png`, in step order, into the looping
/// GIF `out_dir/samples/progress.gif` (written atomically): each frame shown
/// [`GIF_FRAME_MS`], the last [`GIF_LAST_FRAME_MS`]; at most [`GIF_MAX_FRAMES`] frames.
/// Returns the GIF's path, or `None` when there is no grid yet.
pub fn write_progress_gif(out_dir: &Path) -> Result<Option<PathBuf>, PlotError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};

    let dir = out_dir.join("samples");
    let path = dir.join("progress.gif");
    let grids = pick_evenly(sample_grids(&dir)?, GIF_MAX_FRAMES);
    if grids.is_empty() {
        return Ok(None);
    }
    let image_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlotError::Image { path, source }
    };
    let mut gif = Vec::new();
    {
        // Speed 10 of 1..=30: quantizing a grid takes milliseconds, not a second.
        let mut enc = GifEncoder::new_with_speed(&mut gif, 10);
        enc.set_repeat(Repeat::Infinite).map_err(image_err(&path))?;
        let mut size = None;
        for (i, (_, grid)) in grids.iter().enumerate() {
            let img = image::open(grid).map_err(image_err(grid))?.to_rgba8();
            let dims = img.dimensions();
            match size {
                None => size = Some(dims),
                Some(expected) if expected != dims => {
                    return Err(PlotError::FrameSize {
                        path: grid.clone(),
                        expected,
                        found: dims,
                    })
                }
                Some(_) => {}
            }
            let ms = if i + 1 == grids.len() {
                GIF_LAST_FRAME_MS
            } else {
                GIF_FRAME_MS
            };
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            enc.encode_frame(frame).map_err(image_err(&path))?;
        }
    }
    gan_runtime::write_atomic(&path, |w| w.write_all(&gif))?;
    Ok(Some(path))
}

/// At most `max` of `items`, evenly spaced, always the first and the last.
fn pick_evenly<T>(items: Vec<T>, max: usize) -> Vec<T> {
    let n = items.len();
    if n <= max || max < 2 {
        return items;
    }
    let keep: Vec<usize> = (0..max).map(|i| i * (n - 1) / (max - 1)).collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(i).is_ok())
        .map(|(_, t)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(n: u64) -> Vec<StepStats> {
        (1..=n)
            .map(|step| {
                let t = step as f32;
                StepStats {
                    step,
                    d_loss: 1.4 - 0.5 * (t / 300.0).min(1.0) + 0.1 * (t * 0.7).sin(),
                    g_loss: 0.7 + 0.8 * (t / 300.0).min(1.0) + 0.2 * (t * 1.3).cos(),
                    d_acc_real: 0.5 + 0.3 * (t / 500.0).min(1.0),
                    d_acc_fake: 0.6 + 0.2 * (t * 0.1).sin().abs(),
                }
            })
            .collect()
    }

    /// Pixels that are neither white nor one of the line colours' tints: mostly text.
    fn dark_pixels(
        img: &image::RgbImage,
        x: std::ops::Range<u32>,
        y: std::ops::Range<u32>,
    ) -> usize {
        y.flat_map(|yy| x.clone().map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| {
                let p = img.get_pixel(xx, yy).0;
                p.iter().all(|&v| v < 100)
            })
            .count()
    }

    #[test]
    fn loss_plot_is_a_png_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("losses.png");
        plot_losses(&history(1000), &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), LOSS_PLOT_SIZE);
        // The title is text at the top centre: dark glyph pixels where there is no line.
        let title = dark_pixels(&img, 300..700, 0..40);
        assert!(title > 200, "no title text drawn ({title} dark pixels)");
        // Both line colours appear.
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(PALETTE[0]) && has(PALETTE[1]) && has(PALETTE[2]));
        // No temp file left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn odd_histories_still_plot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.png");
        plot_losses(&[], &path).unwrap();
        plot_losses(&history(1), &path).unwrap();
        let mut h = history(50);
        h[10].d_loss = f32::NAN;
        h[11].g_loss = f32::INFINITY;
        h[0].g_loss = 1e6; // a wild first step
        plot_losses(&h, &path).unwrap();
        image::open(&path).unwrap();
    }

    #[test]
    fn series_plot_draws_every_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fd.png");
        let a = vec![(1000.0, 80.0), (2000.0, 60.0), (3000.0, 50.0)];
        let b = vec![(1000.0, 90.0), (2000.0, f64::NAN), (3000.0, 70.0)];
        plot_series(
            "FD against steps",
            "step",
            "FD",
            &[("fp32", a), ("int8", b)],
            &path,
        )
        .unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), SERIES_PLOT_SIZE);
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(PALETTE[0]) && has(PALETTE[1]));
        assert!(dark_pixels(&img, 250..650, 0..40) > 150, "no title");
        // Empty and single-point series are fine too.
        let none: Vec<(String, Vec<(f64, f64)>)> = vec![("x".into(), vec![(5.0, 1.0)])];
        plot_series("one point", "x", "y", &none, &path).unwrap();
        plot_series::<&str>("nothing", "x", "y", &[], &path).unwrap();
    }

    #[test]
    fn moving_average_and_thinning() {
        let pts: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, i as f64)).collect();
        let m = moving_average(&pts, 3);
        assert_eq!(m[0], (0.0, 0.5));
        assert_eq!(m[2], (2.0, 2.0));
        assert_eq!(m[4], (4.0, 3.5));
        assert_eq!(moving_average(&pts, 1), pts);
        let many: Vec<(f64, f64)> = (0..10_001).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&many, 4000);
        assert!(t.len() <= 4001);
        assert_eq!(t.last(), many.last());
        assert_eq!(smoothing_window(10), 1);
        assert_eq!(smoothing_window(1000) % 2, 1);
        assert_eq!(pick_evenly((0..10).collect(), 4), vec![0, 3, 6, 9]);
        assert_eq!(pick_evenly((0..3).collect(), 4), vec![0, 1, 2]);
        assert_eq!(format_tick(1500.0, 10_000.0), "1500");
        assert_eq!(format_tick(0.25, 1.0), "0.25");
        assert_eq!(format_tick(1.234, 0.1), "1.234");
    }

    #[test]
    fn stale_grids_past_the_kept_step_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            remove_stale_grids(dir.path(), None).unwrap(),
            0,
            "no samples dir"
        );
        let samples = dir.path().join("samples");
        std::fs::create_dir_all(&samples).unwrap();
        for step in [100u64, 200, 300] {
            std::fs::write(samples.join(format!("step_{step:06}.png")), b"grid").unwrap();
        }
        std::fs::write(samples.join("latest.png"), b"not a grid").unwrap();
        assert_eq!(remove_stale_grids(dir.path(), Some(200)).unwrap(), 1);
        let steps: Vec<u64> = sample_grids(&samples)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, vec![100, 200]);
        assert_eq!(remove_stale_grids(dir.path(), None).unwrap(), 2);
        assert!(sample_grids(&samples).unwrap().is_empty());
        assert!(
            samples.join("latest.png").is_file(),
            "only step grids are removed"
        );
    }

    #[test]
    fn progress_gif_has_the_grids_in_step_order() {
        use image::AnimationDecoder;
        let dir = tempfile::tempdir().unwrap();
        assert!(
            write_progress_gif(dir.path()).is_err(),
            "no samples dir is an error"
        );
        let samples = dir.path().join("samples");
        std::fs::create_dir_all(&samples).unwrap();
        assert_eq!(write_progress_gif(dir.path()).unwrap(), None);
        // Written out of order; grey level encodes the step. Step 1000000 sorts last.
        for (step, level) in [(200u64, 100u8), (100, 50), (1_000_000, 250), (300, 150)] {
            let img = image::GrayImage::from_pixel(10, 6, image::Luma([level]));
            img.save(samples.join(format!("step_{step:06}.png")))
                .unwrap();
        }
        std::fs::write(samples.join("latest.png"), b"not a grid").unwrap();
        std::fs::write(samples.join(".step_000400.png.1.tmp"), b"partial").unwrap();
        let path = write_progress_gif(dir.path()).unwrap().unwrap();
        assert_eq!(path, samples.join("progress.gif"));
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let frames = image::codecs::gif::GifDecoder::new(file)
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
        let levels: Vec<u8> = frames
            .iter()
            .map(|f| f.buffer().get_pixel(0, 0).0[0])
            .collect();
        assert_eq!(levels, vec![50, 100, 150, 250]);
        let ms: Vec<u32> = frames
            .iter()
            .map(|f| {
                let (n, d) = f.delay().numer_denom_ms();
                n / d
            })
            .collect();
        assert_eq!(ms, vec![200, 200, 200, 2000]);

        // A grid of another size is an error naming it.
        image::GrayImage::new(4, 4)
            .save(samples.join("step_000500.png"))
            .unwrap();
        let e = write_progress_gif(dir.path()).unwrap_err().to_string();
        assert!(e.contains("step_000500.png"), "{e}");
    }
}
