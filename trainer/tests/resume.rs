//! Crash safety on real data: the trainer is killed with SIGKILL at several points; every
//! time, the files under their final names are whole (checkpoint loads, PNGs decode, CSV
//! parses), `--resume` continues, and the final model is bit-identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gan_trainer::checkpoint;
use gan_trainer::model::ImageShape;

mod common;

fn data_dir() -> PathBuf {
    common::shared_data("fashion-mnist")
}

fn trainer(out: &Path, extra: &[&str]) -> Command {
    trainer_steps(out, "240", extra)
}

fn trainer_steps(out: &Path, steps: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args([
        "--data",
        data_dir().to_str().unwrap(),
        "--steps",
        steps,
        "--batch-size",
        "32",
    ])
    .args([
        "--seed",
        "4",
        "--sample-every",
        "40",
        "--checkpoint-every",
        "20",
        "--quiet",
    ])
    .arg("--out")
    .arg(out)
    .arg("--export")
    .arg(out.join("g.onnx"))
    .args(extra);
    c
}

/// Every file under its final name is complete and readable.
fn check_whole(out: &Path) {
    let ckpt = out.join(checkpoint::FILE_NAME);
    if ckpt.exists() {
        let shape = ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        };
        checkpoint::load(&ckpt, 4443, shape, &gan_trainer::device::cpu_train())
            .unwrap_or_else(|e| panic!("checkpoint after kill: {e}"));
    }
    if let Ok(entries) = std::fs::read_dir(out.join("samples")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "png")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            {
                image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
    for figure in [out.join("losses.png"), out.join("samples/progress.gif")] {
        if figure.exists() {
            image::open(&figure).unwrap_or_else(|e| panic!("{}: {e}", figure.display()));
        }
    }
    if let Ok(csv) = std::fs::read_to_string(out.join("losses.csv")) {
        assert!(csv.starts_with("step,"));
        for line in csv.lines().skip(1) {
            assert_eq!(line.split(',').count(), 5, "partial CSV line {line:?}");
        }
    }
    assert!(
        !out.join("g.onnx").exists(),
        "model exported before the run finished"
    );
}

#[test]
fn killed_runs_resume_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let started = std::time::Instant::now();
    let st = trainer(&straight, &[]).status().unwrap();
    assert!(st.success());
    let straight_ms = started.elapsed().as_millis() as u64;
    let expected = std::fs::read(straight.join("g.onnx")).unwrap();

    // Kill points scale with how long the whole run took here, so a loaded or slow machine
    // still gets kills before and after checkpoints: fixed 0.7-1.6 s kills never reached the
    // first checkpoint (step 20) on a loaded 2-core machine at ~10 steps/s.
    let killed = dir.path().join("killed");
    let mut kills = 0;
    for (round, per_mille) in [90u64, 160, 110, 200].into_iter().enumerate() {
        let delay_ms = (straight_ms * per_mille / 1000).max(700);
        let resume: &[&str] = if killed.join(checkpoint::FILE_NAME).exists() {
            &["--resume"]
        } else {
            &[]
        };
        let mut child = trainer(&killed, resume).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        check_whole(&killed);
        assert!(round < 3 || killed.join(checkpoint::FILE_NAME).exists());
    }
    assert!(
        kills >= 2,
        "the run finished too fast to be killed ({kills} kills)"
    );
    // Finish from the last checkpoint (or from scratch if none was written yet).
    let resume: &[&str] = if killed.join(checkpoint::FILE_NAME).exists() {
        &["--resume"]
    } else {
        &[]
    };
    let out = trainer(&killed, resume).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(killed.join("g.onnx")).unwrap();
    assert!(
        got == expected,
        "resumed model differs from the uninterrupted run"
    );
    assert_eq!(
        std::fs::read_to_string(killed.join("losses.csv")).unwrap(),
        std::fs::read_to_string(straight.join("losses.csv")).unwrap()
    );
}

#[test]
fn augmented_run_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let aug = ["--augment", "flip,rotate=10,zoom=0.1,contrast=0.2"];
    let straight = dir.path().join("straight");
    assert!(trainer_steps(&straight, "40", &aug)
        .status()
        .unwrap()
        .success());
    let split = dir.path().join("split");
    assert!(trainer_steps(&split, "20", &aug)
        .status()
        .unwrap()
        .success());
    // The checkpoint's config (augmentation included) wins over the command line.
    let out = trainer_steps(&split, "40", &["--resume"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(split.join("g.onnx")).unwrap()
            == std::fs::read(straight.join("g.onnx")).unwrap(),
        "resumed augmented run differs from the uninterrupted one"
    );
    let plain = dir.path().join("plain");
    assert!(trainer_steps(&plain, "40", &[]).status().unwrap().success());
    assert!(
        std::fs::read(plain.join("g.onnx")).unwrap()
            != std::fs::read(straight.join("g.onnx")).unwrap(),
        "--augment changed nothing"
    );
}

#[test]
fn bad_checkpoints_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let st = trainer_steps(&out, "20", &[]).status().unwrap();
    assert!(st.success());
    let ckpt = out.join(checkpoint::FILE_NAME);
    let good = std::fs::read(&ckpt).unwrap();
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let dev = Default::default();
    let load = |bytes: &[u8]| checkpoint::from_bytes(bytes, "ck", 4443, shape, &dev).map(|_| ());
    load(&good).unwrap();
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("flipped", {
            let mut b = good.clone();
            let i = b.len() - 100;
            b[i] ^= 0xff;
            b
        }),
        ("not a checkpoint", b"hello world, definitely not".to_vec()),
    ] {
        let e = load(&bytes).unwrap_err().to_string();
        assert!(e.contains("ck"), "{what}: {e}");
    }
    let e = checkpoint::from_bytes(&good, "ck", 100, shape, &dev)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("4443 images"), "{e}");

    // --resume without a checkpoint, and past the end, are clear errors.
    let fresh = dir.path().join("fresh");
    let o = trainer(&fresh, &["--resume"]).output().unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no checkpoint"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = trainer_steps(&out, "10", &["--resume"]).output().unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already at step 20, past --steps 10"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // At exactly --steps, resuming trains nothing and exports the checkpoint's generator:
    // the same file the run exported when it got there.
    let onnx = out.join("g.onnx");
    let first_export = std::fs::read(&onnx).unwrap();
    std::fs::remove_file(&onnx).unwrap();
    let o = trainer_steps(&out, "20", &["--resume"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&onnx).unwrap(), first_export);
}

/// A resumed run takes its hyper-parameters from the checkpoint, `--conditional` included:
/// `--class-names` is accepted without repeating it.
#[test]
fn resuming_a_conditional_run_needs_no_conditional_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cond");
    let data = common::shared_data("mnist");
    let run = |steps: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["--data", data.to_str().unwrap(), "--steps", steps])
            .args(["--batch-size", "16", "--sample-every", "0", "--quiet"])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run("2", &["--conditional"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let onnx = dir.path().join("cond.onnx");
    let names = "zero,one,two,three,four,five,six,seven,eight,nine";
    let o = run(
        "3",
        &[
            "--resume",
            "--class-names",
            names,
            "--export",
            onnx.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("10 classes"), "{err}");
    let contract = gan_onnx::read::contract(&gan_onnx::file::load(&onnx).unwrap()).unwrap();
    assert_eq!(contract.class_names.join(","), names);
}

/// The step grids in `out/samples`, by step.
fn grid_steps(out: &Path) -> Vec<u64> {
    gan_trainer::plot::sample_grids(&out.join("samples"))
        .unwrap()
        .into_iter()
        .map(|(step, _)| step)
        .collect()
}

#[test]
fn a_new_run_in_the_same_out_replaces_the_old_runs_grids() {
    use image::AnimationDecoder;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A conditional run first: its grids have one column per class, wider than the next run's.
    let o = trainer_steps(&out, "80", &["--conditional"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(grid_steps(&out), vec![40, 80]);

    // An unconditional run for fewer steps into the same folder: before, its progress.gif
    // failed on the old grids' size (and otherwise animated them).
    let o = trainer_steps(&out, "40", &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(grid_steps(&out), vec![40]);
    let gif =
        std::io::BufReader::new(std::fs::File::open(out.join("samples/progress.gif")).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(gif)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 1);

    // --resume keeps the grids up to its checkpoint (step 80) and drops the ones after it,
    // here one a longer earlier run left at step 200.
    let o = trainer_steps(&out, "80", &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::copy(
        out.join("samples/step_000080.png"),
        out.join("samples/step_000200.png"),
    )
    .unwrap();
    let o = trainer_steps(&out, "120", &["--resume"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(grid_steps(&out), vec![40, 80, 120]);
}
