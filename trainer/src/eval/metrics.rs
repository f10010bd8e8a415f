//! Sample-quality metrics on feature vectors and class probabilities: pure functions, no model.
//!
//! Feature sets are slices of rows (`&[[f32; 128]]`, `&[Vec<f32>]`, anything whose rows are
//! `AsRef<[f32]>`), all rows of one length. Probabilities are rows that each sum to 1.
//!
//! - [`frechet_distance`]: distance between the Gaussians fitted to two feature sets (FID when
//!   the features come from Inception; here they come from the evaluation classifier, so values
//!   compare only between runs that use the same classifier).
//! - [`inception_score`]: `exp(E_x KL(p(y|x) || p(y)))` from a classifier's predictions.
//! - [`precision_recall`]: the k-nearest-neighbour manifold estimate of Kynkäänniemi et al.
//!   (2019): how much of the generated set lies on the real manifold, and the reverse.
//! - [`class_histogram`]: how many samples the classifier puts in each class.
//!
//! ```
//! use gan_trainer::eval::metrics::{frechet_distance, precision_recall};
//!
//! let a: Vec<[f32; 2]> = vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
//! let b: Vec<[f32; 2]> = a.iter().map(|r| [r[0] + 3.0, r[1]]).collect();
//! // Same covariance, means 3 apart: FD = 3^2.
//! assert!((frechet_distance(&a, &b).unwrap() - 9.0).abs() < 1e-9);
//! let pr = precision_recall(&a, &a, 1).unwrap();
//! assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
//! ```

use nalgebra::{DMatrix, DVector};

/// Why a metric could not be computed from its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// Too few rows for the statistic.
    #[error("{what}: {got} rows, need at least {need}")]
    TooFew {
        /// Which input.
        what: &'static str,
        /// Rows given.
        got: usize,
        /// Rows needed.
        need: usize,
    },
    /// Rows of different lengths.
    #[error("{what}: row {row} has {got} values, expected {expected}")]
    Ragged {
        /// Which input.
        what: &'static str,
        /// The first row at fault.
        row: usize,
        /// Its length.
        got: usize,
        /// The length of the first row (or of the other set).
        expected: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what}: row {row} holds a NaN or infinite value")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// The first row at fault.
        row: usize,
    },
    /// An argument is out of range.
    #[error("{0}")]
    Argument(String),
}

fn check_rows<R: AsRef<[f32]>>(
    what: &'static str,
    rows: &[R],
    need: usize,
    dim: Option<usize>,
) -> Result<usize, MetricError> {
    if rows.len() < need {
        return Err(MetricError::TooFew {
            what,
            got: rows.len(),
            need,
        });
    }
    let expected = dim.unwrap_or_else(|| rows.first().map_or(0, |r| r.as_ref().len()));
    for (row, r) in rows.iter().enumerate() {
        let r = r.as_ref();
        if r.len() != expected {
            return Err(MetricError::Ragged {
                what,
                row,
                got: r.len(),
                expected,
            });
        }
        if r.iter().any(|v| !v.is_finite()) {
            return Err(MetricError::NonFinite { what, row });
        }
    }
    Ok(expected)
}

/// Mean and covariance of a feature set: the Gaussian the Fréchet distance compares.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStats {
    /// Mean of the rows.
    pub mean: DVector<f64>,
    /// Unbiased covariance of the rows (divided by `n - 1`).
    pub cov: DMatrix<f64>,
    /// Rows the statistics were computed from.
    pub count: usize,
}

impl FeatureStats {
    /// Mean and covariance of `rows` (at least 2 rows of one length, all finite).
    pub fn new<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self, MetricError> {
        let d = check_rows("features", rows, 2, None)?;
        let n = rows.len();
        let mut mean = DVector::<f64>::zeros(d);
        for r in rows {
            for (m, &v) in mean.iter_mut().zip(r.as_ref()) {
                *m += v as f64;
            }
        }
        mean /= n as f64;
        let mut centered = DMatrix::<f64>::zeros(n, d);
        for (i, r) in rows.iter().enumerate() {
            for (j, &v) in r.as_ref().iter().enumerate() {
                centered[(i, j)] = v as f64 - mean[j];
            }
        }
        let cov = centered.tr_mul(&centered) / (n - 1) as f64;
        Ok(Self {
            mean,
            cov,
            count: n,
        })
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// Square root of a symmetric positive semi-definite matrix, by symmetric eigendecomposition
/// (`V diag(sqrt(max(l, 0))) V^T`; eigenvalues below zero are rounding noise and clamp to 0).
pub fn sqrtm_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let sym = (m + m.transpose()) * 0.5;
    let eig = sym.symmetric_eigen();
    let sqrt_l = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&sqrt_l) * eig.eigenvectors.transpose()
}

/// Fréchet distance between the Gaussians of two feature sets' statistics:
///
/// `FD = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)`.
///
/// `(S1^1/2 S2 S1^1/2)` is symmetric PSD and has the eigenvalues of `S1 S2`, so its trace
/// square root is a sum of square roots of eigenvalues of a symmetric matrix, computed without
/// complex arithmetic. Results a rounding error below zero are returned as 0.
pub fn frechet_distance_stats(a: &FeatureStats, b: &FeatureStats) -> Result<f64, MetricError> {
    if a.dim() != b.dim() {
        return Err(MetricError::Argument(format!(
            "feature dimensions differ: {} and {}",
            a.dim(),
            b.dim()
        )));
    }
    let diff = &a.mean - &b.mean;
    let s1_half = sqrtm_psd(&a.cov);
    let m = &s1_half * &b.cov * &s1_half;
    let m = (&m + m.transpose()) * 0.5;
    let tr_sqrt: f64 = m
        .symmetric_eigenvalues()
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    let fd = diff.norm_squared() + a.cov.trace() + b.cov.trace() - 2.0 * tr_sqrt;
    Ok(fd.max(0.0))
}

/// Fréchet distance between two feature sets (each at least 2 rows, same row length). See
/// [`frechet_distance_stats`]; use that with precomputed [`FeatureStats`] when one side is
/// fixed (a held-out real set).
pub fn frechet_distance<R: AsRef<[f32]>, S: AsRef<[f32]>>(
    a: &[R],
    b: &[S],
) -> Result<f64, MetricError> {
    frechet_distance_stats(&FeatureStats::new(a)?, &FeatureStats::new(b)?)
}

/// A score averaged over splits of the samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SplitScore {
    /// Mean over the splits.
    pub mean: f64,
    /// Standard deviation over the splits (0 with one split).
    pub std: f64,
    /// Number of splits.
    pub splits: usize,
}

/// Classifier-based inception score: `exp(E_x KL(p(y|x) || p(y)))`, where `p(y)` is the mean
/// prediction over the samples. Between 1 (every sample predicted alike: collapse, or
/// uncertainty) and the number of classes (each sample confidently one class, all classes
/// equally often).
///
/// `probs` are per-sample class probabilities. With `splits > 1` the samples are cut into that
/// many consecutive equal parts (the remainder is dropped), the score is computed on each, and
/// the mean and standard deviation are returned, as in Salimans et al. (2016). Few samples
/// per split bias the score low (`p(y)` is estimated on each split alone).
pub fn inception_score<R: AsRef<[f32]>>(
    probs: &[R],
    splits: usize,
) -> Result<SplitScore, MetricError> {
    if splits == 0 {
        return Err(MetricError::Argument("splits must be at least 1".into()));
    }
    check_rows("probabilities", probs, splits, None)?;
    let part = probs.len() / splits;
    let scores: Vec<f64> = probs
        .chunks_exact(part)
        .take(splits)
        .map(|chunk| {
            let k = chunk[0].as_ref().len();
            let mut py = vec![0f64; k];
            for p in chunk {
                for (m, &v) in py.iter_mut().zip(p.as_ref()) {
                    *m += v as f64;
                }
            }
            py.iter_mut().for_each(|m| *m /= chunk.len() as f64);
            let kl: f64 = chunk
                .iter()
                .map(|p| {
                    p.as_ref()
                        .iter()
                        .zip(&py)
                        .filter(|(&v, _)| v > 0.0)
                        .map(|(&v, &m)| v as f64 * ((v as f64).ln() - m.ln()))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / chunk.len() as f64;
            kl.exp()
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
    Ok(SplitScore { mean, std, splits })
}

/// Improved precision and recall (Kynkäänniemi et al., 2019).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PrecisionRecall {
    /// Fraction of generated samples inside the real manifold: within the k-NN radius of at
    /// least one real sample. Low precision: unrealistic samples.
    pub precision: f64,
    /// Fraction of real samples inside the generated manifold. Low recall: missing variety
    /// (mode collapse).
    pub recall: f64,
    /// The `k` of the k-nearest-neighbour radii.
    pub k: usize,
}

/// Squared Euclidean distances between every row of `a` and every row of `b`, `[a.len(), b.len()]`.
fn sq_dists(a: &DMatrix<f32>, a_norms: &[f32], b: &DMatrix<f32>, b_norms: &[f32]) -> DMatrix<f32> {
    // |x - y|^2 = |x|^2 + |y|^2 - 2 x.y; the GEMM does the work.
    let mut d = a * b.transpose();
    for (j, &bn) in b_norms.iter().enumerate() {
        for (i, &an) in a_norms.iter().enumerate() {
            let v = &mut d[(i, j)];
            *v = (an + bn - 2.0 * *v).max(0.0);
        }
    }
    d
}

/// Rows of at most this many are compared at once (bounds the distance block's memory).
const BLOCK: usize = 1024;

fn to_matrix<R: AsRef<[f32]>>(rows: &[R], dim: usize) -> (DMatrix<f32>, Vec<f32>) {
    let m = DMatrix::from_fn(rows.len(), dim, |i, j| rows[i].as_ref()[j]);
    let norms = m.row_iter().map(|r| r.norm_squared()).collect();
    (m, norms)
}

fn block(m: &DMatrix<f32>, norms: &[f32], start: usize) -> (DMatrix<f32>, Vec<f32>) {
    let n = BLOCK.min(m.nrows() - start);
    (
        m.rows(start, n).into_owned(),
        norms[start..start + n].to_vec(),
    )
}

/// Squared distance of every row to its `k`-th nearest other row of the same set.
fn knn_radii(m: &DMatrix<f32>, norms: &[f32], k: usize) -> Vec<f32> {
    let mut radii = Vec::with_capacity(m.nrows());
    let mut start = 0;
    while start < m.nrows() {
        let (b, bn) = block(m, norms, start);
        let d = sq_dists(&b, &bn, m, norms);
        for i in 0..b.nrows() {
            let mut row: Vec<f32> = d.row(i).iter().copied().collect();
            row[start + i] = f32::INFINITY; // not its own neighbour
            let (_, kth, _) = row.select_nth_unstable_by(k - 1, f32::total_cmp);
            radii.push(*kth);
        }
        start += b.nrows();
    }
    radii
}

/// Fraction of rows of `query` within the k-NN ball of at least one row of `manifold`.
fn coverage(
    query: &DMatrix<f32>,
    qn: &[f32],
    manifold: &DMatrix<f32>,
    mn: &[f32],
    radii: &[f32],
) -> f64 {
    let mut inside = 0usize;
    let mut start = 0;
    while start < query.nrows() {
        let (b, bn) = block(query, qn, start);
        let d = sq_dists(&b, &bn, manifold, mn);
        inside += (0..b.nrows())
            .filter(|&i| d.row(i).iter().zip(radii).any(|(&x, &r)| x <= r))
            .count();
        start += b.nrows();
    }
    inside as f64 / query.nrows() as f64
}

/// k-NN precision and recall of `generated` against `real` (Kynkäänniemi et al., 2019).
///
/// Each real sample gets a ball reaching its `k`-th nearest real neighbour; the union of the
/// balls estimates the real manifold. Precision is the fraction of generated samples inside
/// it. Recall swaps the roles. Both sets need more than `k` rows, of one length. The cost is
/// `O((n_real + n_gen)^2 * dim)`, done in blocks of bounded memory. The paper uses `k = 3`.
pub fn precision_recall<R: AsRef<[f32]>, S: AsRef<[f32]>>(
    real: &[R],
    generated: &[S],
    k: usize,
) -> Result<PrecisionRecall, MetricError> {
    if k == 0 {
        return Err(MetricError::Argument("k must be at least 1".into()));
    }
    let dim = check_rows("real features", real, k + 1, None)?;
    check_rows("generated features", generated, k + 1, Some(dim))?;
    let (r, rn) = to_matrix(real, dim);
    let (g, gn) = to_matrix(generated, dim);
    let r_radii = knn_radii(&r, &rn, k);
    let g_radii = knn_radii(&g, &gn, k);
    Ok(PrecisionRecall {
        precision: coverage(&g, &gn, &r, &rn, &r_radii),
        recall: coverage(&r, &rn, &g, &gn, &g_radii),
        k,
    })
}

/// Index of the largest value of a row (the first one on ties); `None` for an empty row.
pub fn argmax(row: &[f32]) -> Option<usize> {
    row.iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f32)>, (i, &v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map(|(i, _)| i)
}

/// Top-1 accuracy: the fraction of rows of `probs` whose largest probability is at the true
/// class (`labels`, one per row; extra labels are ignored). 0 for no rows.
pub fn accuracy<R: AsRef<[f32]>>(probs: &[R], labels: impl IntoIterator<Item = usize>) -> f64 {
    let correct = probs
        .iter()
        .zip(labels)
        .filter(|(p, y)| argmax(p.as_ref()) == Some(*y))
        .count();
    correct as f64 / probs.len().max(1) as f64
}

/// How many rows of `probs` have their largest probability in each of `num_classes` classes.
/// The counts sum to `probs.len()`; rows wider than `num_classes` whose argmax falls outside
/// are an error.
pub fn class_histogram<R: AsRef<[f32]>>(
    probs: &[R],
    num_classes: usize,
) -> Result<Vec<usize>, MetricError> {
    let mut counts = vec![0usize; num_classes];
    for (row, p) in probs.iter().enumerate() {
        match argmax(p.as_ref()) {
            Some(c) if c < num_classes => counts[c] += 1,
            _ => {
                return Err(MetricError::Ragged {
                    what: "probabilities",
                    row,
                    got: p.as_ref().len(),
                    expected: num_classes,
                })
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows of `dim` independent normals, row `i` = `mean + std * z_i` (seeded).
    fn gaussian(seed: u64, n: usize, mean: &[f32], std: &[f32]) -> Vec<Vec<f32>> {
        (0..n as u64)
            .map(|i| {
                gan_runtime::latent(seed, i, mean.len())
                    .iter()
                    .zip(mean.iter().zip(std))
                    .map(|(z, (m, s))| m + s * z)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fd_of_identical_sets_is_zero() {
        let a = gaussian(1, 500, &[0.5; 16], &[1.0; 16]);
        let fd = frechet_distance(&a, &a).unwrap();
        assert!(fd.abs() < 1e-8, "FD(a, a) = {fd}");
    }

    #[test]
    fn fd_matches_the_closed_form_for_gaussians() {
        // Diagonal covariances: FD = |mu1 - mu2|^2 + sum (s1 - s2)^2.
        let dim = 8;
        let m1: Vec<f32> = (0..dim).map(|i| i as f32 * 0.1).collect();
        let m2: Vec<f32> = (0..dim).map(|i| 1.0 - i as f32 * 0.2).collect();
        let s1: Vec<f32> = (0..dim).map(|i| 0.5 + i as f32 * 0.1).collect();
        let s2: Vec<f32> = (0..dim).map(|i| 2.0 - i as f32 * 0.15).collect();
        let expected: f64 = m1
            .iter()
            .zip(&m2)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            + s1.iter()
                .zip(&s2)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>();
        let a = gaussian(2, 20_000, &m1, &s1);
        let b = gaussian(3, 20_000, &m2, &s2);
        let fd = frechet_distance(&a, &b).unwrap();
        // Sampling error of means and covariances with 20k samples: well under 2%.
        assert!(
            (fd - expected).abs() < 0.02 * expected,
            "FD {fd}, closed form {expected}"
        );
    }

    #[test]
    fn fd_is_symmetric() {
        let a = gaussian(4, 300, &[0.0; 12], &[1.0; 12]);
        let b = gaussian(5, 400, &[0.3; 12], &[0.7; 12]);
        let ab = frechet_distance(&a, &b).unwrap();
        let ba = frechet_distance(&b, &a).unwrap();
        assert!(ab > 0.1);
        assert!((ab - ba).abs() < 1e-9 * ab.max(1.0), "{ab} vs {ba}");
    }

    #[test]
    fn fd_rejects_bad_input() {
        let a = vec![vec![0.0f32; 3]; 5];
        assert!(matches!(
            frechet_distance(&a[..1], &a),
            Err(MetricError::TooFew { .. })
        ));
        let mut ragged = a.clone();
        ragged[2].push(1.0);
        assert!(matches!(
            frechet_distance(&a, &ragged),
            Err(MetricError::Ragged { row: 2, .. })
        ));
        let b = vec![vec![0.0f32; 4]; 5];
        assert!(matches!(
            frechet_distance(&a, &b),
            Err(MetricError::Argument(_))
        ));
        let mut nan = a.clone();
        nan[0][0] = f32::NAN;
        assert!(matches!(
            frechet_distance(&nan, &a),
            Err(MetricError::NonFinite { row: 0, .. })
        ));
    }

    fn one_hot(class: usize, k: usize) -> Vec<f32> {
        (0..k).map(|i| if i == class { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn inception_score_of_confident_uniform_predictions_is_the_class_count() {
        let probs: Vec<Vec<f32>> = (0..1000).map(|i| one_hot(i % 10, 10)).collect();
        let s = inception_score(&probs, 1).unwrap();
        assert!((s.mean - 10.0).abs() < 1e-9, "{s:?}");
        let s = inception_score(&probs, 10).unwrap();
        assert!((s.mean - 10.0).abs() < 1e-9 && s.std < 1e-9, "{s:?}");
        assert_eq!(s.splits, 10);
    }

    #[test]
    fn inception_score_of_a_collapsed_generator_is_one() {
        let probs: Vec<Vec<f32>> = (0..100).map(|_| one_hot(3, 10)).collect();
        assert!((inception_score(&probs, 1).unwrap().mean - 1.0).abs() < 1e-12);
        // Uniform uncertainty everywhere is just as uninformative.
        let flat = vec![vec![0.1f32; 10]; 100];
        assert!((inception_score(&flat, 1).unwrap().mean - 1.0).abs() < 1e-6);
        assert!(inception_score(&flat, 0).is_err());
        assert!(inception_score(&flat[..3], 4).is_err());
    }

    #[test]
    fn precision_recall_of_identical_sets_is_one() {
        let a = gaussian(6, 300, &[0.0; 8], &[1.0; 8]);
        let pr = precision_recall(&a, &a, 3).unwrap();
        assert_eq!((pr.precision, pr.recall, pr.k), (1.0, 1.0, 3));
    }

    #[test]
    fn precision_recall_of_far_apart_sets_is_zero() {
        let a = gaussian(7, 300, &[0.0; 8], &[1.0; 8]);
        let b = gaussian(8, 200, &[50.0; 8], &[1.0; 8]);
        let pr = precision_recall(&a, &b, 3).unwrap();
        assert_eq!((pr.precision, pr.recall), (0.0, 0.0));
    }

    #[test]
    fn precision_recall_separates_quality_from_variety() {
        // Generated samples all from one corner of the real distribution: realistic (high
        // precision) but missing most of it (low recall). Blocks of 1024 rows are crossed.
        let real = gaussian(9, 1500, &[0.0; 4], &[1.0; 4]);
        let narrow = gaussian(10, 1100, &[0.5; 4], &[0.2; 4]);
        let pr = precision_recall(&real, &narrow, 3).unwrap();
        assert!(pr.precision > 0.95, "{pr:?}");
        assert!(pr.recall < 0.3, "{pr:?}");
        let same_dist = gaussian(11, 1100, &[0.0; 4], &[1.0; 4]);
        let pr = precision_recall(&real, &same_dist, 3).unwrap();
        assert!(pr.precision > 0.9 && pr.recall > 0.9, "{pr:?}");
    }

    #[test]
    fn histogram_counts_argmaxes() {
        let probs = vec![
            vec![0.7f32, 0.2, 0.1],
            vec![0.1, 0.1, 0.8],
            vec![0.2, 0.5, 0.3],
            vec![0.6, 0.3, 0.1],
        ];
        assert_eq!(class_histogram(&probs, 3).unwrap(), vec![2, 1, 1]);
        assert_eq!(class_histogram(&probs, 4).unwrap(), vec![2, 1, 1, 0]);
        assert!(class_histogram(&probs, 2).is_err());
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
        assert_eq!(accuracy(&probs, [0, 2, 0, 0]), 0.75);
        assert_eq!(accuracy(&probs[..0], []), 0.0);
        assert_eq!(argmax(&[]), None);
    }
}
