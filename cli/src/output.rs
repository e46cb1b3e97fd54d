//! Where a command writes its result: stdout, or a file given with `-o`.
//!
//! A file is written under a temporary name in the same directory and renamed into place only
//! when the command succeeds, so a failed or interrupted run never leaves a truncated output
//! that looks complete (a half-written `.bin` shard is still a valid-looking `.bin` shard).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use anyhow::{bail, Context, Result};
use tempfile::NamedTempFile;

/// Output buffer size: big writes, few syscalls.
pub const BUFFER_SIZE: usize = 1 << 20;

/// Temporary files being written, removed if the user interrupts the run (Ctrl-C), since the
/// usual clean-up on drop does not run then.
static PARTIAL_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn clean_up_on_interrupt(partial: &Path) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails only if a handler is already installed; then that one is in charge.
        let _ = ctrlc::set_handler(|| {
            let files = PARTIAL_FILES.lock().unwrap_or_else(|p| p.into_inner());
            for file in files.iter() {
                let _ = std::fs::remove_file(file);
            }
            if files.is_empty() {
                eprintln!("\ninterrupted");
            } else {
                eprintln!("\ninterrupted; the unfinished output file was removed");
            }
            std::process::exit(130);
        });
    });
    let mut files = PARTIAL_FILES.lock().unwrap_or_else(|p| p.into_inner());
    files.push(partial.to_path_buf());
}

fn forget_partial(partial: &Path) {
    let mut files = PARTIAL_FILES.lock().unwrap_or_else(|p| p.into_inner());
    files.retain(|f| f != partial);
}

pub struct Output {
    writer: BufWriter<Box<dyn Write>>,
    target: Target,
}

enum Target {
    Stdout,
    /// A regular file, written under a temporary name and renamed to `path` on commit.
    File {
        temp: Option<NamedTempFile>,
        path: PathBuf,
        shown: PathBuf,
    },
    /// Not a regular file (a device or a pipe): written directly.
    InPlace {
        path: PathBuf,
    },
}

impl Output {
    /// `None` or `-` is stdout.
    pub fn open(path: Option<&Path>) -> Result<Output> {
        let path = match path {
            None => return Ok(Output::stdout()),
            Some(p) if p == Path::new("-") => return Ok(Output::stdout()),
            Some(path) => path,
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                bail!("cannot write {}: it is a directory", path.display())
            }
            // A device, FIFO or socket (`-o /dev/null`, a named pipe): written in place, since
            // renaming a file over it would replace the device itself.
            Ok(meta) if !meta.is_file() => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {} for writing", path.display()))?;
                Ok(Output {
                    writer: BufWriter::with_capacity(BUFFER_SIZE, Box::new(file)),
                    target: Target::InPlace {
                        path: path.to_path_buf(),
                    },
                })
            }
            // An existing file: replaced where it really is, so a symlink to it stays a symlink.
            Ok(_) => {
                let real = std::fs::canonicalize(path)
                    .with_context(|| format!("cannot resolve {}", path.display()))?;
                Output::via_temp_file(&real, path)
            }
            Err(_) => Output::via_temp_file(path, path),
        }
    }

    /// Writes a temporary file next to `path`, renamed to `path` on commit. `shown` is the path
    /// as the user gave it, for messages.
    fn via_temp_file(path: &Path, shown: &Path) -> Result<Output> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            bail!(
                "cannot write {}: directory {} does not exist",
                shown.display(),
                dir.display()
            );
        }
        let mut builder = tempfile::Builder::new();
        // Like a plainly created file: 0666 less the umask (tempfile's default is 0600).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let temp = builder
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create an output file in {}", dir.display()))?;
        clean_up_on_interrupt(temp.path());
        let file: File = temp
            .as_file()
            .try_clone()
            .with_context(|| format!("cannot open output file {}", shown.display()))?;
        Ok(Output {
            writer: BufWriter::with_capacity(BUFFER_SIZE, Box::new(file)),
            target: Target::File {
                temp: Some(temp),
                path: path.to_path_buf(),
                shown: shown.to_path_buf(),
            },
        })
    }

    fn stdout() -> Output {
        Output {
            writer: BufWriter::with_capacity(BUFFER_SIZE, Box::new(io::stdout())),
            target: Target::Stdout,
        }
    }

    /// True when the output is stdout and stdout is a terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self.target, Target::Stdout) && io::stdout().is_terminal()
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .map_err(|err| self.describe(err))
    }

    /// Flushes and, for a file, moves it into place. Without this the partial file is deleted.
    pub fn commit(mut self) -> Result<()> {
        self.writer.flush().map_err(|err| self.describe(err))?;
        if let Target::File {
            temp, path, shown, ..
        } = &mut self.target
        {
            let temp = temp.take().expect("committed once");
            forget_partial(temp.path());
            // On disk before the rename, so a crash cannot leave an empty file under the name.
            temp.as_file()
                .sync_data()
                .with_context(|| format!("cannot write {}", shown.display()))?;
            temp.persist(&*path)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot write {}", shown.display()))?;
        }
        Ok(())
    }

    fn describe(&self, err: io::Error) -> anyhow::Error {
        let what = match &self.target {
            Target::Stdout => "stdout".to_string(),
            Target::File { shown, .. } => shown.display().to_string(),
            Target::InPlace { path } => path.display().to_string(),
        };
        anyhow::Error::new(err).context(format!("cannot write {what}"))
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not committed: the temporary file is deleted by `NamedTempFile`'s own drop.
        if let Target::File {
            temp: Some(temp), ..
        } = &self.target
        {
            forget_partial(temp.path());
        }
    }
}
