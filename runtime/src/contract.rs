//! The generator contract: what an exported ONNX generator promises, stored in the model's
//! `metadata_props` and in the shapes of its inputs and outputs.
//!
//! The trainer writes it with [`ModelContract::to_metadata`]; every consumer (the ONNX Runtime
//! [`Generator`](crate::Generator), the wasm build, tests) reads it with
//! [`ModelContract::from_metadata`] and checks the graph's inputs/outputs with
//! [`ModelContract::validate_io`]. This is the only place the keys and rules live.

use std::collections::BTreeMap;

/// Current version of the metadata layout. A reader refuses files with a different version
/// rather than guessing.
pub const FORMAT_VERSION: u32 = 1;

/// Name of the latent input tensor: float32 `[N, latent_dim]`.
pub const INPUT_LATENT: &str = "z";
/// Name of the class-label input tensor of conditional models: int64 `[N]`.
pub const INPUT_LABEL: &str = "label";
/// Name of the output tensor: float32 `[N, C, H, W]`.
pub const OUTPUT_IMAGE: &str = "image";

/// Metadata keys, all under the `gan.` prefix.
pub mod keys {
    /// Layout version, see [`super::FORMAT_VERSION`].
    pub const FORMAT_VERSION: &str = "gan.format_version";
    /// Latent vector length.
    pub const LATENT_DIM: &str = "gan.latent_dim";
    /// Latent distribution; only `normal` (standard normal) is defined.
    pub const LATENT_DISTRIBUTION: &str = "gan.latent_distribution";
    /// Name of the function that maps (seed, index) to a latent, see [`crate::latent::LATENT_SAMPLER`].
    pub const LATENT_SAMPLER: &str = "gan.latent_sampler";
    /// Image channels (1 or 3).
    pub const CHANNELS: &str = "gan.image_channels";
    /// Image height in pixels.
    pub const HEIGHT: &str = "gan.image_height";
    /// Image width in pixels.
    pub const WIDTH: &str = "gan.image_width";
    /// Output value range as `min,max`, for example `-1,1`.
    pub const OUTPUT_RANGE: &str = "gan.output_range";
    /// Number of classes; 0 for unconditional models.
    pub const NUM_CLASSES: &str = "gan.num_classes";
    /// Class names, one per line, in label order (optional).
    pub const CLASS_NAMES: &str = "gan.class_names";
    /// Name of the training dataset (free text).
    pub const DATASET: &str = "gan.dataset";
    /// Number of training steps the weights saw.
    pub const TRAIN_STEPS: &str = "gan.train_steps";
    /// Architecture name, for example `mlp` (free text).
    pub const ARCH: &str = "gan.arch";
}

/// The class of sample `index` in a class-balanced stream: `index % num_classes`. Any range of
/// `k * num_classes` consecutive indices holds each class `k` times, so split ranges stay
/// balanced.
pub fn balanced_label(index: u64, num_classes: usize) -> i64 {
    (index % num_classes.max(1) as u64) as i64
}

/// Largest latent, image side and class count a contract may declare. They keep a corrupt or
/// hostile file from making a reader allocate absurd buffers.
pub const MAX_LATENT_DIM: usize = 65_536;
/// See [`MAX_LATENT_DIM`].
pub const MAX_IMAGE_SIDE: usize = 4_096;
/// See [`MAX_LATENT_DIM`].
pub const MAX_CLASSES: usize = 100_000;

/// Why a model's contract was refused. Every variant names the field at fault.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ContractError {
    /// A required metadata key is absent.
    #[error("model metadata lacks `{key}`: is this a generator exported by `trainer --export`?")]
    Missing {
        /// The missing key.
        key: &'static str,
    },
    /// A metadata value does not parse or is out of range.
    #[error("model metadata `{key}` = {value:?} is invalid: expected {expected}")]
    Invalid {
        /// The key at fault.
        key: &'static str,
        /// Its value as found.
        value: String,
        /// What was expected instead.
        expected: String,
    },
    /// The graph's inputs or outputs do not match the metadata.
    #[error("model {what} `{name}`: {problem}")]
    Io {
        /// `input` or `output`.
        what: &'static str,
        /// Tensor name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// What a generator model promises: its latent, its images and its classes.
///
/// ```
/// use gan_runtime::ModelContract;
///
/// let contract = ModelContract::new(100, 1, 28, 28);
/// let metadata = contract.to_metadata();
/// let read = ModelContract::from_metadata(|key| metadata.get(key).cloned()).unwrap();
/// assert_eq!(read, contract);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelContract {
    /// Latent vector length.
    pub latent_dim: usize,
    /// Image channels (1 = gray, 3 = RGB).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Range of the output values, mapped to 0..=255 when making pictures.
    pub output_range: (f32, f32),
    /// Number of classes (0: unconditional).
    pub num_classes: usize,
    /// Class names in label order, empty when unknown.
    pub class_names: Vec<String>,
    /// Training dataset name, free text.
    pub dataset: String,
    /// Training steps the weights saw.
    pub train_steps: u64,
    /// Architecture name, free text.
    pub arch: String,
}

impl ModelContract {
    /// A contract for an unconditional generator with output range `[-1, 1]`.
    pub fn new(latent_dim: usize, channels: usize, height: usize, width: usize) -> Self {
        Self {
            latent_dim,
            channels,
            height,
            width,
            output_range: (-1.0, 1.0),
            num_classes: 0,
            class_names: Vec::new(),
            dataset: String::new(),
            train_steps: 0,
            arch: String::new(),
        }
    }

    /// Number of values in one image (`C * H * W`).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the model takes a `label` input.
    pub fn is_conditional(&self) -> bool {
        self.num_classes > 0
    }

    /// The metadata entries that describe this contract.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put(keys::FORMAT_VERSION, FORMAT_VERSION.to_string());
        put(keys::LATENT_DIM, self.latent_dim.to_string());
        put(keys::LATENT_DISTRIBUTION, "normal".into());
        put(keys::LATENT_SAMPLER, crate::latent::LATENT_SAMPLER.into());
        put(keys::CHANNELS, self.channels.to_string());
        put(keys::HEIGHT, self.height.to_string());
        put(keys::WIDTH, self.width.to_string());
        put(
            keys::OUTPUT_RANGE,
            format!("{},{}", self.output_range.0, self.output_range.1),
        );
        put(keys::NUM_CLASSES, self.num_classes.to_string());
        if !self.class_names.is_empty() {
            put(keys::CLASS_NAMES, self.class_names.join("\n"));
        }
        put(keys::DATASET, self.dataset.clone());
        put(keys::TRAIN_STEPS, self.train_steps.to_string());
        put(keys::ARCH, self.arch.clone());
        m
    }

    /// Reads and validates a contract from metadata, looked up key by key through `get`.
    ///
    /// Refuses missing keys, unparsable numbers, out-of-range sizes, an unknown format
    /// version, latent distribution or sampler, and class names that do not match the class
    /// count.
    pub fn from_metadata(get: impl Fn(&str) -> Option<String>) -> Result<Self, ContractError> {
        let req = |key: &'static str| get(key).ok_or(ContractError::Missing { key });
        let invalid = |key: &'static str, value: &str, expected: &str| ContractError::Invalid {
            key,
            value: value.to_string(),
            expected: expected.to_string(),
        };
        let int = |key: &'static str, lo: usize, hi: usize| -> Result<usize, ContractError> {
            let v = req(key)?;
            match v.trim().parse::<usize>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                _ => Err(invalid(key, &v, &format!("an integer in {lo}..={hi}"))),
            }
        };

        let version = req(keys::FORMAT_VERSION)?;
        if version.trim() != FORMAT_VERSION.to_string() {
            return Err(invalid(
                keys::FORMAT_VERSION,
                &version,
                &format!("{FORMAT_VERSION} (this runtime reads format {FORMAT_VERSION} only)"),
            ));
        }
        let dist = req(keys::LATENT_DISTRIBUTION)?;
        if dist.trim() != "normal" {
            return Err(invalid(keys::LATENT_DISTRIBUTION, &dist, "`normal`"));
        }
        // The sampler is optional for forward compatibility of hand-made files, but when
        // present it must be the one this runtime implements, or seeds would not reproduce.
        if let Some(s) = get(keys::LATENT_SAMPLER) {
            if s.trim() != crate::latent::LATENT_SAMPLER {
                return Err(invalid(
                    keys::LATENT_SAMPLER,
                    &s,
                    &format!("`{}`", crate::latent::LATENT_SAMPLER),
                ));
            }
        }
        let latent_dim = int(keys::LATENT_DIM, 1, MAX_LATENT_DIM)?;
        let channels = int(keys::CHANNELS, 1, 4)?;
        if channels == 2 {
            return Err(invalid(
                keys::CHANNELS,
                "2",
                "1 (gray), 3 (RGB) or 4 (RGBA)",
            ));
        }
        let height = int(keys::HEIGHT, 1, MAX_IMAGE_SIDE)?;
        let width = int(keys::WIDTH, 1, MAX_IMAGE_SIDE)?;

        let range = req(keys::OUTPUT_RANGE)?;
        let output_range = parse_range(&range).ok_or_else(|| {
            invalid(
                keys::OUTPUT_RANGE,
                &range,
                "`min,max` with finite min < max",
            )
        })?;

        let num_classes = int(keys::NUM_CLASSES, 0, MAX_CLASSES)?;
        let class_names: Vec<String> = match get(keys::CLASS_NAMES) {
            Some(s) if !s.is_empty() => s.split('\n').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        if !class_names.is_empty() && class_names.len() != num_classes {
            return Err(invalid(
                keys::CLASS_NAMES,
                &format!("{} names", class_names.len()),
                &format!("{num_classes} names, one per line (gan.num_classes)"),
            ));
        }
        let train_steps = match get(keys::TRAIN_STEPS) {
            None => 0,
            Some(s) => s
                .trim()
                .parse()
                .map_err(|_| invalid(keys::TRAIN_STEPS, &s, "a non-negative integer"))?,
        };

        Ok(Self {
            latent_dim,
            channels,
            height,
            width,
            output_range,
            num_classes,
            class_names,
            dataset: get(keys::DATASET).unwrap_or_default(),
            train_steps,
            arch: get(keys::ARCH).unwrap_or_default(),
        })
    }

    /// Checks the graph's declared inputs and outputs against this contract.
    ///
    /// Expects input `z` float32 `[N, latent_dim]`, input `label` int64 `[N]` exactly when the
    /// model is conditional, and output `image` float32 `[N, C, H, W]`. A dimension declared as
    /// dynamic (`None`) matches anything.
    pub fn validate_io(
        &self,
        inputs: &[TensorSpec],
        outputs: &[TensorSpec],
    ) -> Result<(), ContractError> {
        let io = |what: &'static str, name: &str, problem: String| ContractError::Io {
            what,
            name: name.to_string(),
            problem,
        };
        let find = |list: &[TensorSpec], what: &'static str, name: &str| {
            list.iter()
                .find(|t| t.name == name)
                .cloned()
                .ok_or_else(|| {
                    let found: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
                    io(what, name, format!("missing (the model has {found:?})"))
                })
        };
        let check = |t: &TensorSpec, what: &'static str, elem: ElemType, want: &[Option<usize>]| {
            if t.elem != elem {
                return Err(io(
                    what,
                    &t.name,
                    format!("element type is {:?}, expected {elem:?}", t.elem),
                ));
            }
            if t.shape.len() != want.len() {
                return Err(io(
                    what,
                    &t.name,
                    format!(
                        "rank {} (shape {}), expected rank {}",
                        t.shape.len(),
                        t.shape_str(),
                        want.len()
                    ),
                ));
            }
            for (axis, (got, want)) in t.shape.iter().zip(want).enumerate() {
                if let (Some(g), Some(w)) = (got, want) {
                    if g != w {
                        return Err(io(
                            what,
                            &t.name,
                            format!(
                                "dimension {axis} is {g} (shape {}), expected {w}",
                                t.shape_str()
                            ),
                        ));
                    }
                }
            }
            Ok(())
        };

        let z = find(inputs, "input", INPUT_LATENT)?;
        check(&z, "input", ElemType::F32, &[None, Some(self.latent_dim)])?;
        let label = inputs.iter().find(|t| t.name == INPUT_LABEL);
        match (self.is_conditional(), label) {
            (true, Some(l)) => check(l, "input", ElemType::I64, &[None])?,
            (true, None) => {
                return Err(io(
                    "input",
                    INPUT_LABEL,
                    format!("missing although gan.num_classes = {}", self.num_classes),
                ))
            }
            (false, Some(_)) => {
                return Err(io(
                    "input",
                    INPUT_LABEL,
                    "present although gan.num_classes = 0".into(),
                ))
            }
            (false, None) => {}
        }
        if let Some(extra) = inputs
            .iter()
            .find(|t| t.name != INPUT_LATENT && t.name != INPUT_LABEL)
        {
            return Err(io(
                "input",
                &extra.name,
                "not part of the generator contract".into(),
            ));
        }
        let image = find(outputs, "output", OUTPUT_IMAGE)?;
        check(
            &image,
            "output",
            ElemType::F32,
            &[
                None,
                Some(self.channels),
                Some(self.height),
                Some(self.width),
            ],
        )
    }
}

fn parse_range(s: &str) -> Option<(f32, f32)> {
    let (a, b) = s.split_once(',')?;
    let lo: f32 = a.trim().parse().ok()?;
    let hi: f32 = b.trim().parse().ok()?;
    (lo.is_finite() && hi.is_finite() && lo < hi).then_some((lo, hi))
}

/// Element type of a graph input or output, as far as the contract cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    /// float32
    F32,
    /// int64
    I64,
    /// Anything else.
    Other,
}

/// A graph input or output as declared by the model: name, element type, and shape with
/// `None` for dynamic dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub elem: ElemType,
    /// Shape; `None` marks a dynamic (symbolic) dimension.
    pub shape: Vec<Option<usize>>,
}

impl TensorSpec {
    fn shape_str(&self) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
            .collect();
        format!("[{}]", dims.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(contract: &ModelContract) -> BTreeMap<String, String> {
        contract.to_metadata()
    }

    fn read(m: &BTreeMap<String, String>) -> Result<ModelContract, ContractError> {
        ModelContract::from_metadata(|k| m.get(k).cloned())
    }

    #[test]
    fn round_trips_with_class_names() {
        let mut c = ModelContract::new(64, 3, 32, 32);
        c.num_classes = 2;
        c.class_names = vec!["cat".into(), "T-shirt/top".into()];
        c.dataset = "toy".into();
        c.train_steps = 12;
        c.arch = "mlp".into();
        assert_eq!(read(&meta(&c)).unwrap(), c);
    }

    #[test]
    fn each_missing_key_is_named() {
        let full = meta(&ModelContract::new(100, 1, 28, 28));
        for key in [
            keys::FORMAT_VERSION,
            keys::LATENT_DIM,
            keys::LATENT_DISTRIBUTION,
            keys::CHANNELS,
            keys::HEIGHT,
            keys::WIDTH,
            keys::OUTPUT_RANGE,
            keys::NUM_CLASSES,
        ] {
            let mut m = full.clone();
            m.remove(key);
            let err = read(&m).unwrap_err();
            assert_eq!(err, ContractError::Missing { key }, "removing {key}");
            assert!(err.to_string().contains(key));
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_field() {
        let full = meta(&ModelContract::new(100, 1, 28, 28));
        for (key, value) in [
            (keys::FORMAT_VERSION, "2"),
            (keys::LATENT_DIM, "0"),
            (keys::LATENT_DIM, "-3"),
            (keys::LATENT_DIM, "1e9"),
            (keys::CHANNELS, "2"),
            (keys::CHANNELS, "five"),
            (keys::HEIGHT, "100000"),
            (keys::OUTPUT_RANGE, "1,-1"),
            (keys::OUTPUT_RANGE, "nan,1"),
            (keys::OUTPUT_RANGE, "0"),
            (keys::LATENT_DISTRIBUTION, "uniform"),
            (keys::LATENT_SAMPLER, "mt19937"),
            (keys::CLASS_NAMES, "a\nb"),
            (keys::TRAIN_STEPS, "many"),
        ] {
            let mut m = full.clone();
            m.insert(key.to_string(), value.to_string());
            match read(&m) {
                Err(ContractError::Invalid { key: k, .. }) => assert_eq!(k, key, "{key}={value}"),
                other => panic!("{key}={value:?} gave {other:?}"),
            }
        }
    }

    fn spec(name: &str, elem: ElemType, shape: &[Option<usize>]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            elem,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn io_shapes_are_checked() {
        let c = ModelContract::new(100, 1, 28, 28);
        let z = spec("z", ElemType::F32, &[None, Some(100)]);
        let img = spec("image", ElemType::F32, &[None, Some(1), Some(28), Some(28)]);
        c.validate_io(std::slice::from_ref(&z), std::slice::from_ref(&img))
            .unwrap();

        let bad_z = spec("z", ElemType::F32, &[None, Some(64)]);
        let e = c
            .validate_io(&[bad_z], std::slice::from_ref(&img))
            .unwrap_err();
        assert!(
            e.to_string().contains("input `z`: dimension 1 is 64"),
            "{e}"
        );

        let bad_img = spec("image", ElemType::F32, &[None, Some(3), Some(28), Some(28)]);
        let e = c
            .validate_io(std::slice::from_ref(&z), &[bad_img])
            .unwrap_err();
        assert!(e.to_string().contains("output `image`"), "{e}");

        let int_z = spec("z", ElemType::I64, &[None, Some(100)]);
        assert!(c.validate_io(&[int_z], std::slice::from_ref(&img)).is_err());

        let label = spec("label", ElemType::I64, &[None]);
        let e = c
            .validate_io(&[z.clone(), label.clone()], std::slice::from_ref(&img))
            .unwrap_err();
        assert!(e.to_string().contains("num_classes = 0"), "{e}");

        let mut cond = c.clone();
        cond.num_classes = 10;
        cond.validate_io(&[z.clone(), label], std::slice::from_ref(&img))
            .unwrap();
        let e = cond.validate_io(&[z], &[img]).unwrap_err();
        assert!(e.to_string().contains("input `label`: missing"), "{e}");
    }
}
