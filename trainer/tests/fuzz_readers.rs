//! Property-based fuzzing of the data readers (IDX here; CIFAR-10, image folders and the
//! checkpoint reader below): arbitrary bytes, and valid files with one field
//! or byte corrupted, must give `Ok` or a typed error naming the file, never a panic or an
//! absurd allocation. Runs in CI with a bounded case count (PROPTEST_CASES overrides).

use std::io::Write;

use gan_trainer::data::idx::{read_images, read_labels, IMAGES_MAGIC};
use proptest::prelude::*;

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

fn check(bytes: &[u8], gzip: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz-images-idx3-ubyte");
    let content = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    } else {
        bytes.to_vec()
    };
    std::fs::write(&path, content).unwrap();
    match read_images(&path) {
        Ok((px, n, h, w)) => assert_eq!(px.len(), n * h * w),
        Err(e) => assert!(e.to_string().contains("fuzz-images-idx3-ubyte"), "{e}"),
    }
    match read_labels(&path) {
        Ok(l) => assert!(l.len() <= bytes.len()),
        Err(e) => assert!(e.to_string().contains("fuzz-images-idx3-ubyte"), "{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), gzip in any::<bool>()) {
        check(&bytes, gzip);
    }

    #[test]
    fn corrupted_headers(n in 0u32..8, h in 0u32..6, w in 0u32..6, big in any::<u32>(), which in 0usize..4, cut in 0usize..200) {
        let mut dims = [n, h, w];
        if which < 3 {
            dims[which] = big;
        }
        let body = vec![7u8; (n * h * w) as usize];
        let mut bytes = idx(IMAGES_MAGIC, &dims, &body);
        bytes.truncate(cut.min(bytes.len()));
        check(&bytes, false);
    }

    #[test]
    fn flipped_byte(pos in 0usize..40, val in any::<u8>()) {
        let mut bytes = idx(IMAGES_MAGIC, &[2, 3, 4], &[1u8; 24]);
        let p = pos % bytes.len();
        bytes[p] = val;
        check(&bytes, pos % 2 == 0);
    }
}

mod checkpoint_reader {
    //! The checkpoint reader on corrupted versions of a real checkpoint: every truncation,
    //! flipped byte or spliced header gives `Ok` or an error naming the file, never a panic.

    use std::sync::OnceLock;

    use gan_trainer::checkpoint;
    use gan_trainer::data::Dataset;
    use gan_trainer::model::ImageShape;
    use gan_trainer::train::{GanTrainer, TrainConfig};
    use proptest::prelude::*;

    const SHAPE: ImageShape = ImageShape {
        channels: 1,
        height: 4,
        width: 4,
    };

    fn good() -> &'static [u8] {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BYTES.get_or_init(|| {
            let data = Dataset {
                pixels: (0..8 * 16).map(|i| (i * 31 % 256) as u8).collect(),
                len: 8,
                channels: 1,
                height: 4,
                width: 4,
                labels: None,
            };
            let cfg = TrainConfig {
                latent_dim: 4,
                batch_size: 4,
                ..TrainConfig::default()
            };
            let mut t = GanTrainer::new(cfg, SHAPE, 8, &gan_trainer::device::cpu_train()).unwrap();
            let history: Vec<_> = (0..2).map(|_| t.step(&data)).collect();
            checkpoint::to_bytes(&t, &history).unwrap()
        })
    }

    fn check(bytes: &[u8]) {
        match checkpoint::from_bytes(
            bytes,
            "fuzz.gan",
            8,
            SHAPE,
            &gan_trainer::device::cpu_train(),
        ) {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().contains("fuzz.gan"), "{e}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn truncated(cut in 0usize..100_000) {
            let g = good();
            check(&g[..cut % g.len()]);
        }

        #[test]
        fn flipped(pos in any::<usize>(), val in any::<u8>()) {
            let mut b = good().to_vec();
            let p = pos % b.len();
            b[p] ^= val.max(1);
            check(&b);
        }

        #[test]
        fn header_bytes(pos in 8usize..400, val in any::<u8>()) {
            let mut b = good().to_vec();
            let p = pos.min(b.len() - 1);
            b[p] = val;
            check(&b);
        }
    }
}

mod cifar_and_folder_readers {
    //! The CIFAR-10 and image-folder readers on arbitrary bytes: `Ok` or an error naming the
    //! file, never a panic.

    use gan_trainer::data::{cifar, folder};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn cifar_arbitrary_records(bytes in proptest::collection::vec(any::<u8>(), 0..8000)) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("data_batch_1.bin");
            std::fs::write(&p, &bytes).unwrap();
            match cifar::load_batches(&[p]) {
                Ok(ds) => prop_assert_eq!(ds.pixels.len(), ds.len * 3072),
                Err(e) => prop_assert!(e.to_string().contains("data_batch_1.bin"), "{}", e),
            }
        }

        #[test]
        fn folder_arbitrary_image_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), png_head in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let mut content = if png_head { b"\x89PNG\r\n\x1a\n".to_vec() } else { Vec::new() };
            content.extend(bytes);
            std::fs::write(dir.path().join("img.png"), &content).unwrap();
            match folder::load(dir.path(), 8) {
                Ok((ds, _)) => prop_assert_eq!(ds.pixels.len(), 3 * 64),
                Err(e) => prop_assert!(e.to_string().contains("img.png"), "{}", e),
            }
        }
    }
}
