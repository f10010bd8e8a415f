//! Execution providers: which hardware ONNX Runtime runs a generator on.
//!
//! GPU providers are behind cargo features of the same name (`cuda`, `tensorrt`, `directml`,
//! `coreml`) and need an ONNX Runtime build that has them (e.g. the `onnxruntime-gpu` wheel
//! for CUDA). A requested provider that cannot be used is never skipped silently: with
//! [`ProviderPolicy::Strict`] loading fails, with [`ProviderPolicy::Lenient`] the next one is
//! tried and a warning is logged (`log` crate) and kept in [`Generator::warnings`].
//!
//! [`Generator::warnings`]: crate::Generator::warnings

use ort::session::builder::SessionBuilder;

/// An ONNX Runtime execution provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionProvider {
    /// The default CPU provider (always available).
    Cpu,
    /// NVIDIA CUDA (cargo feature `cuda`).
    Cuda,
    /// NVIDIA TensorRT (cargo feature `tensorrt`).
    TensorRt,
    /// DirectML on Windows (cargo feature `directml`).
    DirectMl,
    /// Apple Core ML (cargo feature `coreml`).
    CoreMl,
}

impl ExecutionProvider {
    /// The name ONNX Runtime uses (`CUDAExecutionProvider`...).
    pub fn ort_name(self) -> &'static str {
        match self {
            Self::Cpu => "CPUExecutionProvider",
            Self::Cuda => "CUDAExecutionProvider",
            Self::TensorRt => "TensorrtExecutionProvider",
            Self::DirectMl => "DmlExecutionProvider",
            Self::CoreMl => "CoreMLExecutionProvider",
        }
    }

    /// The cargo feature that enables this provider.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Self::Cpu => None,
            Self::Cuda => Some("cuda"),
            Self::TensorRt => Some("tensorrt"),
            Self::DirectMl => Some("directml"),
            Self::CoreMl => Some("coreml"),
        }
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::DirectMl => "directml",
            Self::CoreMl => "coreml",
        })
    }
}

impl std::str::FromStr for ExecutionProvider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "tensorrt" | "trt" => Ok(Self::TensorRt),
            "directml" | "dml" => Ok(Self::DirectMl),
            "coreml" => Ok(Self::CoreMl),
            other => Err(format!(
                "unknown execution provider {other:?}: expected cpu, cuda, tensorrt, directml or coreml"
            )),
        }
    }
}

/// What to do when a requested provider cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderPolicy {
    /// Fail to load.
    Strict,
    /// Try the next provider (the CPU last), logging a warning.
    #[default]
    Lenient,
}

/// A requested execution provider could not be used (strict policy).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("execution provider {provider} unavailable: {reason}")]
pub struct ProviderError {
    /// The provider requested.
    pub provider: ExecutionProvider,
    /// Why it cannot be used.
    pub reason: String,
}

/// Registers the first usable provider of `wanted` on `builder`. Returns it and the warnings
/// about the ones skipped.
pub(crate) fn register_providers(
    builder: &mut SessionBuilder,
    wanted: &[ExecutionProvider],
    policy: ProviderPolicy,
) -> Result<(ExecutionProvider, Vec<String>), ProviderError> {
    let mut warnings = Vec::new();
    for &p in wanted {
        if p == ExecutionProvider::Cpu {
            return Ok((p, warnings));
        }
        match try_register(builder, p) {
            Ok(()) => return Ok((p, warnings)),
            Err(reason) => {
                if policy == ProviderPolicy::Strict {
                    return Err(ProviderError {
                        provider: p,
                        reason,
                    });
                }
                let w = format!("execution provider {p} unavailable ({reason}); trying the next");
                log::warn!("{w}");
                warnings.push(w);
            }
        }
    }
    if !wanted.is_empty() {
        let w = "no requested execution provider could be used: running on the CPU".to_string();
        log::warn!("{w}");
        warnings.push(w);
    }
    Ok((ExecutionProvider::Cpu, warnings))
}

fn try_register(builder: &mut SessionBuilder, p: ExecutionProvider) -> Result<(), String> {
    #[allow(unused_imports)]
    use ort::ep::ExecutionProvider as _;
    let not_built = || {
        format!(
            "this build of gan-runtime lacks the `{}` cargo feature",
            p.feature().unwrap_or("?")
        )
    };
    match p {
        ExecutionProvider::Cpu => Ok(()),
        #[cfg(feature = "cuda")]
        ExecutionProvider::Cuda => register(builder, ort::ep::CUDA::default(), p),
        #[cfg(feature = "tensorrt")]
        ExecutionProvider::TensorRt => register(builder, ort::ep::TensorRT::default(), p),
        #[cfg(feature = "directml")]
        ExecutionProvider::DirectMl => register(builder, ort::ep::DirectML::default(), p),
        #[cfg(feature = "coreml")]
        ExecutionProvider::CoreMl => register(builder, ort::ep::CoreML::default(), p),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = builder;
            Err(not_built())
        }
    }
}

#[cfg(any(
    feature = "cuda",
    feature = "tensorrt",
    feature = "directml",
    feature = "coreml"
))]
fn register<E: ort::ep::ExecutionProvider>(
    builder: &mut SessionBuilder,
    ep: E,
    p: ExecutionProvider,
) -> Result<(), String> {
    match E::is_available() {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "the loaded ONNX Runtime library was built without {} (for CUDA, use the onnxruntime-gpu wheel)",
                p.ort_name()
            ))
        }
        Err(e) => return Err(e.to_string()),
    }
    ep.register(builder).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for p in [
            ExecutionProvider::Cpu,
            ExecutionProvider::Cuda,
            ExecutionProvider::TensorRt,
            ExecutionProvider::DirectMl,
            ExecutionProvider::CoreMl,
        ] {
            assert_eq!(p.to_string().parse::<ExecutionProvider>(), Ok(p));
        }
        assert!("tpu"
            .parse::<ExecutionProvider>()
            .unwrap_err()
            .contains("expected cpu"));
    }
}
