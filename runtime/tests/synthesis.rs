//! The synthesis API (images for data augmentation) on the shipped model in the real ONNX
//! Runtime: thread safety, streaming, datasets on disk, memory budgets and execution-provider
//! fallback.

mod common;
use common::{require_ort, shipped_model};

use std::sync::Arc;

use gan_runtime::dataset::{write_dataset, DatasetFormat};
use gan_runtime::{ExecutionProvider, Generator, ProviderPolicy, RuntimeError};

#[test]
fn many_threads_share_one_generator_and_agree_with_one_thread() {
    require_ort();
    let g = Arc::new(
        Generator::builder(shipped_model())
            .threads(1)
            .max_sessions(4)
            .load()
            .unwrap(),
    );
    let single = g.generate(9, 0, 64).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                // Each thread asks for an overlapping slice, several times.
                let start = (t * 8) as u64;
                (0..5)
                    .map(|_| g.generate(9, start, 8).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        for batch in h.join().unwrap() {
            for i in 0..8 {
                assert_eq!(
                    batch.image(i),
                    single.image(t * 8 + i),
                    "thread {t} image {i}"
                );
            }
        }
    }
}

#[test]
fn batches_stream_the_same_images_in_bounded_pieces() {
    require_ort();
    let g = Generator::builder(shipped_model())
        .batch(64)
        .load()
        .unwrap();
    let all = g.generate(3, 100, 150).unwrap();
    let mut seen = 0;
    for b in g.batches(3, 100..250, 40) {
        let b = b.unwrap();
        assert!(b.images.len() <= 40);
        assert!(b.labels.is_none(), "unconditional model");
        for i in 0..b.images.len() {
            let j = (b.start - 100) as usize + i;
            let d: f32 = b
                .images
                .image(i)
                .iter()
                .zip(all.image(j))
                .map(|(a, c)| (a - c).abs())
                .fold(0.0, f32::max);
            assert!(d < 1e-5, "sample {j} differs by {d}");
        }
        seen += b.images.len();
    }
    assert_eq!(seen, 150);
    assert_eq!(gan_runtime::balanced_label(23, 10), 3);
}

#[test]
fn dataset_written_as_idx_and_png() {
    require_ort();
    let g = Generator::load(shipped_model()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    let files = write_dataset(&g, 5, 300, dir.path(), DatasetFormat::Idx, 128, |n| {
        last = n
    })
    .unwrap();
    assert_eq!(last, 300);
    assert_eq!(files, vec![dir.path().join("synthetic-images-idx3-ubyte")]);
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(
        &bytes[..16],
        &[0, 0, 8, 3, 0, 0, 1, 44, 0, 0, 0, 28, 0, 0, 0, 28]
    );
    assert_eq!(bytes.len(), 16 + 300 * 784);
    // Image 7 on disk is sample 7 of seed 5.
    assert_eq!(
        &bytes[16 + 7 * 784..16 + 8 * 784],
        &g.generate(5, 7, 1).unwrap().to_u8(0)[..]
    );

    let png = dir.path().join("png");
    let files = write_dataset(&g, 5, 3, &png, DatasetFormat::Png, 2, |_| {}).unwrap();
    assert_eq!(files.len(), 3);
    let img = image::open(png.join("00000002.png")).unwrap().to_luma8();
    assert_eq!((img.width(), img.height()), (28, 28));
    assert_eq!(img.as_raw(), &g.generate(5, 2, 1).unwrap().to_u8(0));
}

#[test]
fn memory_budget_refuses_before_running() {
    require_ort();
    let g = Generator::builder(shipped_model())
        .memory_budget(100 * 784 * 4)
        .load()
        .unwrap();
    assert!(g.batch_size() <= 100);
    g.generate(1, 0, 100).unwrap();
    match g.generate(1, 0, 101) {
        Err(RuntimeError::Budget { needed, budget, .. }) => {
            assert_eq!(needed, 101 * 784 * 4);
            assert_eq!(budget, 100 * 784 * 4);
        }
        other => panic!("expected a budget error, got {other:?}"),
    }
    // Streaming stays within budget whatever the count.
    assert_eq!(
        g.batches(1, 0..1000, 4096)
            .map(|b| b.unwrap().images.len())
            .sum::<usize>(),
        1000
    );
    // A model whose one image exceeds the budget is refused at load.
    let e = Generator::builder(shipped_model())
        .memory_budget(1000)
        .load()
        .unwrap_err();
    assert!(e.to_string().contains("one 1x28x28 image"), "{e}");
}

#[test]
fn requested_gpu_provider_is_never_skipped_silently() {
    require_ort();
    // This machine's ONNX Runtime (the CPU wheel) has no CUDA: lenient falls back and says so,
    // strict refuses. With the `cuda` feature off, the reason is the missing feature.
    let g = Generator::builder(shipped_model())
        .execution_providers([ExecutionProvider::Cuda, ExecutionProvider::Cpu])
        .load()
        .unwrap();
    assert_eq!(g.execution_provider(), ExecutionProvider::Cpu);
    assert_eq!(g.warnings().len(), 1, "{:?}", g.warnings());
    let reason = if cfg!(feature = "cuda") {
        "built without CUDAExecutionProvider"
    } else {
        "lacks the `cuda` cargo feature"
    };
    assert!(g.warnings()[0].contains(reason), "{:?}", g.warnings());
    g.generate(1, 0, 2).unwrap();

    let e = Generator::builder(shipped_model())
        .execution_providers([ExecutionProvider::Cuda])
        .provider_policy(ProviderPolicy::Strict)
        .load()
        .unwrap_err();
    assert!(
        matches!(
            e,
            RuntimeError::Provider(gan_runtime::ProviderError {
                provider: ExecutionProvider::Cuda,
                ..
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains(reason), "{e}");

    // Only GPU requested, lenient: CPU with a warning naming both steps.
    let g = Generator::builder(shipped_model())
        .execution_providers([ExecutionProvider::TensorRt])
        .load()
        .unwrap();
    assert_eq!(g.execution_provider(), ExecutionProvider::Cpu);
    assert_eq!(g.warnings().len(), 2, "{:?}", g.warnings());
}
