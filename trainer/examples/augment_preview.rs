//! Shows what `--augment` does to real images: the first 32 images of a dataset as they are,
//! then the same 32 as the trainer's first real batch of seed 0 would see them.
//!
//! ```text
//! cargo run --release -p gan-trainer --example augment_preview -- \
//!     ../shared/data/fashion-mnist flip,rotate=10,zoom=0.1,contrast=0.2 augment.png
//! ```

use anyhow::{Context, Result};
use gan_trainer::data::{self, augment::Augment};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, spec, out] = args.as_slice() else {
        anyhow::bail!("usage: augment_preview DATA_DIR AUGMENT_LIST OUT.png");
    };
    let augment: Augment = spec.parse()?;
    let (ds, _) = data::load(dir.as_ref(), 32).with_context(|| format!("loading {dir}"))?;
    let n = ds.len.min(32);
    let idx: Vec<usize> = (0..n).collect();
    let mut plain = Vec::new();
    ds.fill_batch(&idx, &mut plain);
    let mut augmented = plain.clone();
    augment.apply_batch(0, 0, &mut augmented, ds.channels, ds.height, ds.width);
    plain.extend_from_slice(&augmented);
    let batch =
        gan_runtime::ImageBatch::new(plain, 2 * n, ds.channels, ds.height, ds.width, (-1.0, 1.0))?;
    gan_runtime::save_png(&batch.grid(8, 2)?, out.as_ref())?;
    eprintln!("{out}: top {n} as loaded, bottom {n} with --augment {augment}");
    Ok(())
}
