//! The label paths of the runtime on a conditional model (see `conditional_export`): labels
//! are checked, datasets carry class-balanced label files the trainer reads back.

use gan_runtime::dataset::{write_dataset, DatasetFormat};
use gan_runtime::Generator;
use gan_tests::{conditional_export, require_ort};

#[test]
fn labels_are_checked_and_balanced() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cond.onnx");
    conditional_export(&path);
    let g = Generator::load(&path).unwrap();
    assert_eq!(g.contract().num_classes, 10);
    assert_eq!(g.contract().class_names[3], "class 3");

    let e = g.generate(1, 0, 4).unwrap_err().to_string();
    assert!(e.contains("conditional (10 classes): give labels"), "{e}");
    let e = g.generate_labeled(1, 0, &[0, 12]).unwrap_err().to_string();
    assert!(
        e.contains("label 12 is out of range: the model has classes 0..10"),
        "{e}"
    );
    let e = g.generate_labeled(1, 0, &[-1]).unwrap_err().to_string();
    assert!(e.contains("label -1 is out of range"), "{e}");
    assert_eq!(g.generate_labeled(1, 0, &[0, 9, 5]).unwrap().len(), 3);

    let labels: Vec<i64> = g
        .batches(1, 5..35, 7)
        .flat_map(|b| b.unwrap().labels.unwrap())
        .collect();
    assert_eq!(labels, (5..35).map(|i| i % 10).collect::<Vec<i64>>());

    let ds = dir.path().join("ds");
    let files = write_dataset(&g, 1, 40, &ds, DatasetFormat::Idx, 16, |_| {}).unwrap();
    assert_eq!(files.len(), 2);
    let back = gan_trainer::data::load_dir(&ds).unwrap();
    assert_eq!(back.len, 40);
    let mut per_class = [0; 10];
    for &l in back.labels.as_ref().unwrap() {
        per_class[l as usize] += 1;
    }
    assert_eq!(per_class, [4; 10]);

    let png = dir.path().join("png");
    write_dataset(&g, 1, 12, &png, DatasetFormat::Png, 5, |_| {}).unwrap();
    let csv = std::fs::read_to_string(png.join("labels.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    assert!(csv.contains("00000011.png,1,class 1"), "{csv}");
}

#[test]
fn wrong_opsets_are_refused_naming_the_file() {
    use onnx_protobuf::{Message, ModelProto};
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.onnx");
    gan_tests::untrained_export(&good);
    for (name, opset) in [("ancient.onnx", 5), ("future.onnx", 999)] {
        let mut m = ModelProto::parse_from_bytes(&std::fs::read(&good).unwrap()).unwrap();
        m.opset_import[0].version = opset;
        let p = dir.path().join(name);
        std::fs::write(&p, m.write_to_bytes().unwrap()).unwrap();
        let e = Generator::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("ONNX Runtime cannot load") && e.contains(name),
            "{e}"
        );
    }
}
