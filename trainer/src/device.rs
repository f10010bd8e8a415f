//! Where training runs: burn-flex on the CPU (always built), CUDA or wgpu behind the cargo
//! features of the same names.
//!
//! ```
//! use gan_trainer::device::DeviceKind;
//!
//! let device = DeviceKind::Cpu.train_device().unwrap();
//! assert!(device.is_autodiff());
//! ```

use burn::prelude::Device;

/// A device the trainer can run on (`trainer --device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceKind {
    /// The CPU, with burn-flex (SIMD GEMM, rayon threads) and our own kernels.
    #[default]
    Cpu,
    /// An NVIDIA GPU through burn-cuda (build with `--features cuda`; CUDA is loaded at run
    /// time, no toolkit is needed, but the build downloads an LLVM bundle: see the README).
    Cuda,
    /// A GPU through burn-wgpu (build with `--features wgpu`).
    Wgpu,
}

/// Why a device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The binary was built without the cargo feature the device needs.
    #[error(
        "--device {device} needs the trainer built with the `{feature}` cargo feature \
         (cargo build --release -p gan-trainer --features {feature})"
    )]
    NotBuilt {
        /// The device asked for.
        device: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
}

impl DeviceKind {
    /// The device's name as `--device` spells it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Wgpu => "wgpu",
        }
    }

    /// The device without autodiff: inference, sampling, evaluation.
    pub fn device(self) -> Result<Device, DeviceError> {
        match self {
            DeviceKind::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda => Err(DeviceError::NotBuilt {
                device: "cuda",
                feature: "cuda",
            }),
            #[cfg(feature = "wgpu")]
            DeviceKind::Wgpu => Ok(Device::wgpu(Default::default())),
            #[cfg(not(feature = "wgpu"))]
            DeviceKind::Wgpu => Err(DeviceError::NotBuilt {
                device: "wgpu",
                feature: "wgpu",
            }),
        }
    }

    /// The same device with autodiff, for training.
    pub fn train_device(self) -> Result<Device, DeviceError> {
        Ok(self.device()?.autodiff())
    }
}

/// The CPU device without autodiff (burn-flex): what sampling, export and evaluation use by
/// default.
pub fn cpu() -> Device {
    Device::flex()
}

/// The CPU device with autodiff: what training uses by default.
pub fn cpu_train() -> Device {
    Device::flex().autodiff()
}
