//! Constructors for the parts of an ONNX graph.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::{
    type_proto, AttributeProto, NodeProto, StringStringEntryProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, MessageField};

/// A tensor initializer with raw little-endian data.
pub fn tensor(name: &str, dims: &[i64], ty: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.to_vec(),
        data_type: ty as i32,
        raw_data: raw,
        ..Default::default()
    }
}

/// A float32 initializer.
pub fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    let raw = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, dims, DataType::FLOAT, raw)
}

/// An int64 initializer.
pub fn i64_tensor(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    let raw = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, dims, DataType::INT64, raw)
}

/// A node named after its first output.
pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    named_node(outputs[0], op, inputs, outputs, attrs)
}

/// A node with its own name.
pub fn named_node(
    name: &str,
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: name.to_string(),
        op_type: op.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        type_: EnumOrUnknown::new(ty),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        i,
        ..attr(name, AttributeType::INT)
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: ints.to_vec(),
        ..attr(name, AttributeType::INTS)
    }
}

/// A float attribute.
pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        f,
        ..attr(name, AttributeType::FLOAT)
    }
}

/// A string attribute.
pub fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        s: s.as_bytes().to_vec(),
        ..attr(name, AttributeType::STRING)
    }
}

/// One dimension of a [`value_info`] shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// A named, dynamic dimension (e.g. the batch `N`).
    Param(&'static str),
    /// A fixed size.
    Value(i64),
}

/// A tensor graph input or output: element type, and the shape if known.
pub fn value_info(name: &str, ty: DataType, shape: Option<&[Dim]>) -> ValueInfoProto {
    let shape = shape.map(|dims| TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                value: Some(match d {
                    Dim::Param(p) => dimension::Value::DimParam(p.to_string()),
                    Dim::Value(v) => dimension::Value::DimValue(*v),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    ValueInfoProto {
        name: name.to_string(),
        type_: MessageField::some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: ty as i32,
                shape: shape.into(),
                ..Default::default()
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `metadata_props` entries from key-value pairs.
pub fn metadata(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<StringStringEntryProto> {
    pairs
        .into_iter()
        .map(|(key, value)| StringStringEntryProto {
            key,
            value,
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_info_shapes() {
        let v = value_info(
            "z",
            DataType::FLOAT,
            Some(&[Dim::Param("N"), Dim::Value(100)]),
        );
        let t = match &v.type_.value {
            Some(type_proto::Value::TensorType(t)) => t,
            other => panic!("not a tensor type: {other:?}"),
        };
        assert_eq!(t.elem_type, DataType::FLOAT as i32);
        let dims = &t.shape.dim;
        assert_eq!(dims.len(), 2);
        assert_eq!(dims[0].value, Some(dimension::Value::DimParam("N".into())));
        assert_eq!(dims[1].value, Some(dimension::Value::DimValue(100)));
        let bare = value_info("a", DataType::FLOAT, None);
        match &bare.type_.value {
            Some(type_proto::Value::TensorType(t)) => assert!(t.shape.is_none()),
            other => panic!("not a tensor type: {other:?}"),
        }
    }

    #[test]
    fn attributes_carry_their_type() {
        assert_eq!(
            attr_int("axis", 1).type_,
            EnumOrUnknown::new(AttributeType::INT)
        );
        let a = attr_ints("pads", &[1, 1]);
        assert_eq!(
            (a.type_, a.ints),
            (EnumOrUnknown::new(AttributeType::INTS), vec![1, 1])
        );
        let f = attr_float("alpha", 0.2);
        assert_eq!(
            (f.type_, f.f),
            (EnumOrUnknown::new(AttributeType::FLOAT), 0.2)
        );
    }

    #[test]
    fn tensors_are_little_endian() {
        let t = i64_tensor("k", &[2], &[1, -1]);
        assert_eq!(t.data_type, DataType::INT64 as i32);
        assert_eq!(t.raw_data[..8], 1i64.to_le_bytes());
        assert_eq!(t.raw_data[8..], (-1i64).to_le_bytes());
    }
}
