//! Reading parts of an ONNX model.

use onnx_protobuf::{ModelProto, NodeProto, TensorProto};

use gan_runtime::{ContractError, ModelContract};

/// The float values of an initializer (raw little-endian or `float_data`).
pub fn floats(t: &TensorProto) -> Vec<f32> {
    if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        t.float_data.clone()
    }
}

/// A node's integer attribute, or `default` when absent.
pub fn attr_int_or(node: &NodeProto, name: &str, default: i64) -> i64 {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map_or(default, |a| a.i)
}

/// A node's float attribute, or `default` when absent.
pub fn attr_float_or(node: &NodeProto, name: &str, default: f32) -> f32 {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map_or(default, |a| a.f)
}

/// A `metadata_props` value.
pub fn metadata_value<'a>(model: &'a ModelProto, key: &str) -> Option<&'a str> {
    model
        .metadata_props
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

/// The generator contract stored in the model's `metadata_props`.
pub fn contract(model: &ModelProto) -> Result<ModelContract, ContractError> {
    ModelContract::from_metadata(|key| metadata_value(model, key).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{f32_tensor, metadata};

    #[test]
    fn floats_from_raw_or_float_data() {
        assert_eq!(floats(&f32_tensor("a", &[2], &[1.0, 2.5])), [1.0, 2.5]);
        let t = TensorProto {
            float_data: vec![3.0],
            ..Default::default()
        };
        assert_eq!(floats(&t), [3.0]);
    }

    #[test]
    fn contract_round_trips_through_metadata() {
        let mut c = ModelContract::new(8, 3, 32, 32);
        c.num_classes = 2;
        c.class_names = vec!["cat".into(), "dog".into()];
        let model = ModelProto {
            metadata_props: metadata(c.to_metadata()),
            ..Default::default()
        };
        assert_eq!(contract(&model).unwrap(), c);
        assert!(contract(&ModelProto::default()).is_err());
    }
}
