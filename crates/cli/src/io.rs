//! Inputs and outputs as users name them: a path or `-`, with a progress bar
//! on a terminal and output files that appear only when complete.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use crmsync_formats::Input;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts the bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub struct Opened {
    pub input: Input,
    pub progress: Progress,
}

/// Opens `path` (`-` is stdin) for reading.
pub fn open_input(path: &str, quiet: bool) -> Result<Opened> {
    let count = Arc::new(AtomicU64::new(0));
    let (bytes, size, regular): (Box<dyn Read + Send>, Option<u64>, bool) = if path == "-" {
        (Box::new(io::stdin()), None, false)
    } else {
        let f = File::open(path).with_context(|| format!("cannot open {path}"))?;
        let meta = f.metadata().with_context(|| format!("cannot read {path}"))?;
        if meta.is_dir() {
            anyhow::bail!("{path} is a directory, not a file");
        }
        (Box::new(f), Some(meta.len()), meta.is_file())
    };
    let name = if path == "-" { "<stdin>".to_string() } else { path.to_string() };
    let progress = Progress::new(size, count.clone(), quiet);
    // (A pipe's bytes are read once: only a file is looked further into.)
    let path = regular.then(|| PathBuf::from(path));
    Ok(Opened { input: Input { name, bytes: Box::new(Counting { inner: bytes, count }), path }, progress })
}

/// A progress bar on stderr when it is a terminal; silent otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    count: Arc<AtomicU64>,
}

impl Progress {
    fn new(size: Option<u64>, count: Arc<AtomicU64>, quiet: bool) -> Self {
        let bar = (!quiet && io::stderr().is_terminal()).then(|| match size {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        });
        Self { bar, count }
    }

    pub fn tick(&self, records: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.count.load(Ordering::Relaxed));
            bar.set_message(format!("{records} records"));
        }
    }

    pub fn bytes(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// An output file written under a temporary name and renamed into place
/// when complete, so a failed run never leaves a half-written file.
pub struct Output {
    pub name: String,
    temp: Option<(PathBuf, PathBuf)>,
}

impl Output {
    pub fn create(path: &str) -> Result<(Output, Box<dyn Write + Send>)> {
        Self::create_as(path, "partial")
    }

    /// Written at `.NAME.SUFFIX` beside the file, moved into place at the end.
    fn create_as(path: &str, suffix: &str) -> Result<(Output, Box<dyn Write + Send>)> {
        if path == "-" {
            let out: Box<dyn Write + Send> = Box::new(io::BufWriter::with_capacity(256 * 1024, io::stdout()));
            return Ok((Output { name: "<stdout>".into(), temp: None }, out));
        }
        if path.is_empty() {
            anyhow::bail!("no output file named (an empty path)");
        }
        let mut target = PathBuf::from(path);
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(std::fs::Metadata::is_dir) || path.ends_with(std::path::MAIN_SEPARATOR) {
            anyhow::bail!("cannot write {path}: it is a directory, not a file");
        }
        match &existing {
            // `/dev/stdout`, a named pipe: nothing to swap in, and a rename
            // would replace the device with a file.
            Some(m) if !m.is_file() && !m.is_dir() => {
                let f = File::options().write(true).open(&target).with_context(|| format!("cannot write {path}"))?;
                let out: Box<dyn Write + Send> = Box::new(io::BufWriter::with_capacity(256 * 1024, f));
                return Ok((Output { name: path.to_string(), temp: None }, out));
            }
            // A link: the file it points to is written (made if need be),
            // and the link kept.
            Some(_) if target.is_symlink() => {
                target = std::fs::canonicalize(&target).with_context(|| format!("cannot follow the link {path}"))?;
            }
            None if target.is_symlink() => {
                let to = std::fs::read_link(&target).with_context(|| format!("cannot follow the link {path}"))?;
                target = match target.parent() {
                    Some(dir) => dir.join(to),
                    None => to,
                };
            }
            _ => {}
        }
        let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let temp = target.with_file_name(format!(".{file_name}.{suffix}"));
        let f = File::create(&temp).with_context(|| format!("cannot create {path}"))?;
        // A file written again keeps who may read it: customer data made
        // private stays private.
        if let Some(m) = existing.filter(|m| m.is_file()) {
            let _ = f.set_permissions(m.permissions());
        }
        let out: Box<dyn Write + Send> = Box::new(io::BufWriter::with_capacity(256 * 1024, f));
        Ok((Output { name: path.to_string(), temp: Some((temp, target)) }, out))
    }

    /// Fails as `create` would, leaving nothing behind: for outputs a
    /// command writes only after it has begun to change the store.
    /// (Under a name of its own: the `.partial` file a killed run left, its
    /// plan, is for `--resume` to read.)
    pub fn probe(path: &str) -> Result<()> {
        Output::create_as(path, "probe").map(drop)
    }

    /// Moves the finished file into place.
    pub fn commit(mut self) -> Result<()> {
        if let Some((temp, target)) = self.temp.take() {
            if hard_linked(&target) {
                // A rename would leave the other names with the old file:
                // the new content is copied into it instead, as `cp` does.
                let copied = std::fs::copy(&temp, &target)
                    .with_context(|| format!("cannot write the output into {}", target.display()));
                let _ = std::fs::remove_file(&temp);
                copied?;
            } else if let Err(e) = std::fs::rename(&temp, &target) {
                let _ = std::fs::remove_file(&temp);
                return Err(e).with_context(|| format!("cannot move the output into {}", target.display()));
            }
        }
        Ok(())
    }
}

/// Whether `path` is a file with other names (hard links) too.
#[cfg(unix)]
fn hard_linked(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.nlink() > 1)
}

#[cfg(not(unix))]
fn hard_linked(_path: &Path) -> bool {
    false
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some((temp, _)) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// True when two paths name the same file (`-` is never a file).
pub fn same_file(a: &str, b: &str) -> bool {
    if a == "-" || b == "-" {
        return false;
    }
    if a == b {
        return true;
    }
    match (Path::new(a).canonicalize(), Path::new(b).canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `n` and the noun in its number: `1 row`, `2 rows`, `0 rows`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
