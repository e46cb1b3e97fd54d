//! `--dropped DIR`: the documents that stages dropped, with their reasons, as
//! `DIR/dropped.jsonl.zst`, kept consistent with the run's checkpoints.
//!
//! The file is a sequence of zstd frames (a valid zstd stream: decoders read concatenated frames
//! as one). Every checkpoint ends the current frame and records the file's length, so a resumed
//! run cuts the file back to that length and appends new frames: the result is byte-identical
//! to a run that was never interrupted. Like every output, it is written as `.tmp` and renamed
//! when the run finishes, before the manifest that lists its checksum.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::durable::{tmp_path, DurableFile, FileError};
use crate::manifest::FileInfo;

pub(crate) const DROPPED_FILE: &str = "dropped.jsonl.zst";
const ZSTD_LEVEL: i32 = 3;

pub(crate) struct DroppedWriter {
    path: PathBuf,
    state: State,
}

enum State {
    /// Between frames.
    Idle(DurableFile),
    Frame(zstd::Encoder<'static, DurableFile>),
    /// Only while switching states.
    Poisoned,
}

fn zstd_error(path: &Path) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |error| FileError {
        action: "write",
        path: tmp_path(path),
        error,
    }
}

impl DroppedWriter {
    /// Starts `dir/dropped.jsonl.zst` afresh.
    pub(crate) fn create(dir: &Path) -> Result<DroppedWriter, FileError> {
        fs::create_dir_all(dir).map_err(crate::durable::io_err("create", dir))?;
        let path = dir.join(DROPPED_FILE);
        Ok(DroppedWriter {
            state: State::Idle(DurableFile::create(&path)?),
            path,
        })
    }

    /// Continues after the first `len` bytes that a checkpoint recorded. A run killed after
    /// the file was renamed (but before its manifest) finds it under its final name.
    pub(crate) fn resume(dir: &Path, len: u64) -> Result<DroppedWriter, FileError> {
        let path = dir.join(DROPPED_FILE);
        let tmp = tmp_path(&path);
        if !tmp.exists() && path.exists() {
            fs::rename(&path, &tmp).map_err(crate::durable::io_err("rename", &path))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(crate::durable::io_err("open", &tmp))?;
        Ok(DroppedWriter {
            state: State::Idle(DurableFile::resume(&path, file, len)?),
            path,
        })
    }

    pub(crate) fn write(&mut self, line: &[u8]) -> Result<(), FileError> {
        if let State::Idle(_) = self.state {
            let State::Idle(file) = std::mem::replace(&mut self.state, State::Poisoned) else {
                unreachable!()
            };
            let encoder = zstd::Encoder::new(file, ZSTD_LEVEL).map_err(zstd_error(&self.path))?;
            self.state = State::Frame(encoder);
        }
        match &mut self.state {
            State::Frame(encoder) => encoder.write_all(line).map_err(zstd_error(&self.path)),
            _ => unreachable!("a frame was just started"),
        }
    }

    /// Ends the current frame and syncs; returns the file's length for the checkpoint.
    pub(crate) fn checkpoint(&mut self) -> Result<u64, FileError> {
        let mut file = match std::mem::replace(&mut self.state, State::Poisoned) {
            State::Idle(file) => file,
            State::Frame(encoder) => encoder.finish().map_err(zstd_error(&self.path))?,
            State::Poisoned => unreachable!("a failed write ended the run"),
        };
        file.sync()?;
        let len = file.bytes();
        self.state = State::Idle(file);
        Ok(len)
    }

    /// Ends the last frame and renames the file into place.
    pub(crate) fn finish(mut self) -> Result<FileInfo, FileError> {
        self.checkpoint()?;
        let State::Idle(file) = self.state else {
            unreachable!("checkpoint leaves the writer idle")
        };
        let mut info = file.finish()?;
        info.file = self.path.display().to_string();
        Ok(info)
    }
}
