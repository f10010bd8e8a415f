//! Augment a classifier's training set with synthetic images.
//!
//! Streams `COUNT` samples of a seed from a generator in bounded batches (class-balanced
//! labels for conditional models) and writes them as IDX files that MNIST-style loaders,
//! and `trainer --data`, read.
//!
//! ```text
//! source scripts/env.sh
//! cargo run --release -p gan-runtime --example augment -- models/fashion-mlp.onnx out/synthetic 10000
//! ```
//!
//! To split the work across processes or machines, give each one its own seed range: sample
//! `i` of seed `s` is the same image everywhere.

use std::path::PathBuf;

use gan_runtime::dataset::{write_dataset, DatasetFormat};
use gan_runtime::Generator;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "models/fashion-mlp.onnx".into()),
    );
    let out = PathBuf::from(args.next().unwrap_or_else(|| "out/synthetic".into()));
    let count: u64 = match args.next() {
        Some(c) => c
            .parse()
            .map_err(|_| format!("COUNT must be a positive integer, got {c:?}"))?,
        None => 10_000,
    };

    gan_runtime::generator::use_project_library_if_unset();
    let generator = Generator::builder(&model).threads(2).load()?;
    let c = generator.contract();
    println!(
        "{}: {}x{}x{} images, {} classes, trained {} steps on {}",
        model.display(),
        c.channels,
        c.height,
        c.width,
        c.num_classes,
        c.train_steps,
        c.dataset
    );
    let files = write_dataset(
        &generator,
        2024,
        count,
        &out,
        DatasetFormat::Idx,
        512,
        |n| {
            if n % 5120 == 0 || n == count {
                println!("{n}/{count}");
            }
        },
    )?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
