//! ONNX files: read with errors that name the file, written atomically.

use std::path::{Path, PathBuf};

use onnx_protobuf::{Message, ModelProto};

/// Why a model file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OnnxFileError {
    /// The file could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file is not an ONNX model.
    #[error("{} is not an ONNX model: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// The model could not be serialized.
    #[error("cannot serialize the ONNX model: {0}")]
    Encode(#[from] protobuf::Error),
}

/// Reads an ONNX model.
pub fn load(path: &Path) -> Result<ModelProto, OnnxFileError> {
    let bytes = std::fs::read(path).map_err(|e| OnnxFileError::Io {
        path: path.to_path_buf(),
        reason: format!("cannot read: {e}"),
    })?;
    ModelProto::parse_from_bytes(&bytes).map_err(|e| OnnxFileError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Writes `model` to `path` atomically (temporary file, then rename): an existing file is
/// replaced whole or left as it was.
pub fn save(model: &ModelProto, path: &Path) -> Result<(), OnnxFileError> {
    let bytes = model.write_to_bytes()?;
    gan_runtime::write_atomic(path, |w| w.write_all(&bytes)).map_err(|e| OnnxFileError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let model = ModelProto {
            producer_name: "test".into(),
            ..Default::default()
        };
        save(&model, &path).unwrap();
        assert_eq!(load(&path).unwrap(), model);

        let missing = dir.path().join("missing.onnx");
        let e = load(&missing).unwrap_err().to_string();
        assert!(
            e.contains("missing.onnx") && e.contains("cannot read"),
            "{e}"
        );
        std::fs::write(&path, b"\xff\xff not protobuf").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("m.onnx is not an ONNX model"), "{e}");
        let e = save(&model, &dir.path().join("no/such/dir/m.onnx")).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/m.onnx"), "{e}");
    }
}
