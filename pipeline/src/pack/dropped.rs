//! `--dropped DIR`: the documents that stages dropped, with their reasons, as
//! `DIR/dropped.jsonl.zst`, consistent with the run's checkpoints.
//!
//! The file is a sequence of zstd frames (decoders read concatenated frames as one stream),
//! each holding up to [`FRAME_BYTES`] of JSON lines and compressed in one call. Frame boundaries
//! depend only on the lines, never on when checkpoints happen, so two runs of the same recipe,
//! interrupted or not, write the same bytes. A checkpoint syncs the frames written so far and
//! saves the lines of the unfinished frame in the run's state directory; resuming cuts the file
//! back to the checkpoint's length and starts from those lines. Like every output, the file is
//! written as `.tmp` and renamed when the run finishes, before the manifest that lists its
//! checksum.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::durable::{io_err, tmp_path, DurableFile, FileError};
use crate::manifest::FileInfo;

pub(crate) const DROPPED_FILE: &str = "dropped.jsonl.zst";
/// The unfinished frame's lines at a checkpoint, inside the state directory, as
/// `dropped.pending.N` for the N-th checkpoint: the checkpoint file names the one that belongs
/// to it, so a crash between saving the lines and writing the checkpoint leaves the previous
/// checkpoint's lines intact.
const PENDING_PREFIX: &str = "dropped.pending.";
/// Uncompressed bytes per frame: large enough that framing costs nothing in compression, small
/// enough to hold in memory and to save at every checkpoint.
const FRAME_BYTES: usize = 4 << 20;
const ZSTD_LEVEL: i32 = 3;

pub(crate) struct DroppedWriter {
    path: PathBuf,
    file: DurableFile,
    /// Lines of the frame being gathered.
    pending: Vec<u8>,
    state_dir: PathBuf,
    /// Number of the next checkpoint's pending file.
    seq: u64,
}

fn pending_path(state_dir: &Path, seq: u64) -> PathBuf {
    state_dir.join(format!("{PENDING_PREFIX}{seq}"))
}

/// Where a checkpoint left the dropped-documents file.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct DroppedCheckpoint {
    /// Bytes of complete frames.
    pub(crate) bytes: u64,
    /// Number of the pending file holding the unfinished frame's lines.
    pub(crate) seq: u64,
}

impl DroppedWriter {
    /// Starts `dir/dropped.jsonl.zst` afresh; checkpoints save state in `state_dir`.
    pub(crate) fn create(dir: &Path, state_dir: &Path) -> Result<DroppedWriter, FileError> {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let path = dir.join(DROPPED_FILE);
        Ok(DroppedWriter {
            file: DurableFile::create(&path)?,
            path,
            pending: Vec::new(),
            state_dir: state_dir.to_path_buf(),
            seq: 0,
        })
    }

    /// Continues from a checkpoint that recorded `len` bytes of frames. A run killed after the
    /// file was renamed (but before its manifest) finds it under its final name.
    pub(crate) fn resume(
        dir: &Path,
        state_dir: &Path,
        at: DroppedCheckpoint,
    ) -> Result<DroppedWriter, FileError> {
        let path = dir.join(DROPPED_FILE);
        let tmp = tmp_path(&path);
        if !tmp.exists() && path.exists() {
            fs::rename(&path, &tmp).map_err(io_err("rename", &path))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(io_err("open", &tmp))?;
        let saved = pending_path(state_dir, at.seq);
        let pending = fs::read(&saved).map_err(io_err("read", &saved))?;
        Ok(DroppedWriter {
            file: DurableFile::resume(&path, file, at.bytes)?,
            path,
            pending,
            state_dir: state_dir.to_path_buf(),
            seq: at.seq + 1,
        })
    }

    pub(crate) fn write(&mut self, line: &[u8]) -> Result<(), FileError> {
        self.pending.extend_from_slice(line);
        if self.pending.len() >= FRAME_BYTES {
            self.end_frame()?;
        }
        Ok(())
    }

    fn end_frame(&mut self) -> Result<(), FileError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let tmp = tmp_path(&self.path);
        let frame =
            zstd::bulk::compress(&self.pending, ZSTD_LEVEL).map_err(io_err("compress", &tmp))?;
        self.file.write_all(&frame).map_err(io_err("write", &tmp))?;
        self.pending.clear();
        Ok(())
    }

    /// Syncs the frames written so far and saves the unfinished one's lines; returns what the
    /// checkpoint records.
    pub(crate) fn checkpoint(&mut self) -> Result<DroppedCheckpoint, FileError> {
        self.file.sync()?;
        let path = pending_path(&self.state_dir, self.seq);
        let save = || -> std::io::Result<()> {
            let mut f = fs::File::create(&path)?;
            f.write_all(&self.pending)?;
            f.sync_all()
        };
        save().map_err(io_err("write", &path))?;
        let at = DroppedCheckpoint {
            bytes: self.file.bytes(),
            seq: self.seq,
        };
        self.seq += 1;
        Ok(at)
    }

    /// Once the checkpoint that recorded `at` is on disk, the older pending files are garbage.
    pub(crate) fn checkpointed(&self, at: DroppedCheckpoint) {
        if at.seq > 0 {
            let _ = fs::remove_file(pending_path(&self.state_dir, at.seq - 1));
        }
    }

    /// Writes the last frame and renames the file into place.
    pub(crate) fn finish(mut self) -> Result<FileInfo, FileError> {
        self.end_frame()?;
        let mut info = self.file.finish()?;
        info.file = self.path.display().to_string();
        Ok(info)
    }
}
