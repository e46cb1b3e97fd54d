//! Crash-safe output files.
//!
//! A [`DurableFile`] for `NAME` is written as `NAME.tmp`, checksummed (xxh3) as the bytes pass,
//! synced, and only then renamed to `NAME`: a file with its final name is always complete, so a
//! run killed at any point leaves either the whole file or a `.tmp` file that a resumed run
//! continues ([`DurableFile::resume`]) and a fresh run overwrites.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::manifest::FileInfo;

/// An I/O error with what was being done and to which file. The error types of the public
/// modules turn it into their `Io { action, path, error }` variant ("cannot {action} {path}").
#[derive(Debug)]
pub(crate) struct FileError {
    pub(crate) action: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) error: io::Error,
}

/// For `map_err`: the [`FileError`] of `action` on `path`.
pub(crate) fn io_err<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl Fn(io::Error) -> FileError + 'p {
    move |error| FileError {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// The bare cause, for callers that report the place themselves (the native shard writer,
/// whose errors name the output directory).
impl From<FileError> for io::Error {
    fn from(e: FileError) -> io::Error {
        e.error
    }
}

/// `NAME.tmp`, where a [`DurableFile`] for `NAME` is written.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Best effort: makes renames in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// An output file written under a temporary name, hashed and counted as it is written, and
/// renamed into place by [`finish`](Self::finish) once it is on disk.
pub(crate) struct DurableFile {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    hash: Xxh3,
    bytes: u64,
}

impl DurableFile {
    /// Starts `path` by creating `path.tmp` (truncating one left by an earlier run).
    pub(crate) fn create(path: &Path) -> Result<DurableFile, FileError> {
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        Ok(DurableFile::new(path, tmp, file, Xxh3::new(), 0))
    }

    /// Continues `path` after its first `len` bytes: `file` is `path.tmp`, opened read-write,
    /// and the caller has checked it against its checkpoint. The kept bytes are re-hashed, so
    /// the final checksum covers the whole file; anything after them is dropped.
    pub(crate) fn resume(path: &Path, mut file: File, len: u64) -> Result<DurableFile, FileError> {
        let tmp = tmp_path(path);
        file.rewind().map_err(io_err("seek", &tmp))?;
        let (hash, hashed) =
            hash_stream((&mut file).take(len), |_| {}).map_err(io_err("read", &tmp))?;
        if hashed != len {
            let short = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("it has {hashed} bytes, not the {len} to keep"),
            );
            return Err(io_err("read", &tmp)(short));
        }
        file.set_len(len).map_err(io_err("truncate", &tmp))?;
        file.seek(SeekFrom::End(0)).map_err(io_err("seek", &tmp))?;
        Ok(DurableFile::new(path, tmp, file, hash, len))
    }

    fn new(path: &Path, tmp: PathBuf, file: File, hash: Xxh3, bytes: u64) -> DurableFile {
        DurableFile {
            path: path.to_path_buf(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            hash,
            bytes,
        }
    }

    /// Bytes written so far (including those kept by [`resume`](Self::resume)).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and syncs what was written, for a checkpoint.
    pub(crate) fn sync(&mut self) -> Result<(), FileError> {
        self.out.flush().map_err(io_err("write", &self.tmp))?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(io_err("sync", &self.tmp))
    }

    /// Flushes, syncs and closes the temporary file. It takes its final name with
    /// [`ClosedFile::rename`]; until then a crash leaves it to be resumed or written again.
    pub(crate) fn close(self) -> Result<ClosedFile, FileError> {
        let DurableFile {
            path,
            tmp,
            out,
            hash,
            bytes,
        } = self;
        let file = out
            .into_inner()
            .map_err(|e| io_err("write", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        let info = FileInfo {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
            xxh3: hex_digest(&hash),
        };
        Ok(ClosedFile { path, tmp, info })
    }

    /// [`close`](Self::close), then [`rename`](ClosedFile::rename): the file is in place.
    pub(crate) fn finish(self) -> Result<FileInfo, FileError> {
        self.close()?.rename()
    }
}

impl Write for DurableFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A [`DurableFile`] that is complete on disk but still has its temporary name, for writers
/// that rename several files only once all of them are complete.
pub(crate) struct ClosedFile {
    path: PathBuf,
    tmp: PathBuf,
    info: FileInfo,
}

impl ClosedFile {
    /// Renames the file into place; returns its name, size and xxh3.
    pub(crate) fn rename(self) -> Result<FileInfo, FileError> {
        fs::rename(&self.tmp, &self.path).map_err(io_err("rename into place", &self.tmp))?;
        Ok(self.info)
    }
}

/// Streams `reader` through xxh3 in 1 MiB chunks, handing each chunk to `each` too; every chunk
/// but the last is full, so a caller that parses the bytes as words never sees one cut in two.
/// Returns the hasher (to go on hashing, or to take the digest) and the number of bytes.
pub(crate) fn hash_stream(
    mut reader: impl Read,
    mut each: impl FnMut(&[u8]),
) -> io::Result<(Xxh3, u64)> {
    let mut hash = Xxh3::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok((hash, bytes));
        }
        hash.update(&buf[..filled]);
        each(&buf[..filled]);
        bytes += filled as u64;
    }
}

/// A digest as the manifest writes it: 16 lowercase hex digits.
pub(crate) fn hex_digest(hash: &Xxh3) -> String {
    format!("{:016x}", hash.digest())
}
