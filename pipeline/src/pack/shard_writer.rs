//! Writing rows into `shard-NNNNN.bin` files of a fixed number of rows.
//!
//! Each shard is written under a temporary name (`.tmp`), checksummed as it is written, synced
//! and only then renamed: a file named `shard-NNNNN.bin` is always complete.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::manifest::{FileInfo, ShardInfo};

pub(crate) struct ShardWriter {
    dir: PathBuf,
    seq_len: usize,
    rows_per_shard: u64,
    current: Option<OpenShard>,
    done: Vec<ShardInfo>,
}

struct OpenShard {
    index: usize,
    rows: u64,
    tokens: HashedFile,
    starts: HashedFile,
}

struct HashedFile {
    tmp: PathBuf,
    out: BufWriter<File>,
    hash: Xxh3,
    bytes: u64,
}

impl HashedFile {
    fn create(tmp: PathBuf) -> io::Result<HashedFile> {
        let out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        Ok(HashedFile {
            tmp,
            out,
            hash: Xxh3::new(),
            bytes: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    /// Syncs and renames to `name`; returns the file's size and checksum.
    fn finish(self, dir: &Path, name: &str) -> io::Result<FileInfo> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, dir.join(name))?;
        Ok(FileInfo {
            file: name.to_string(),
            bytes: self.bytes,
            xxh3: format!("{:016x}", self.hash.digest()),
        })
    }
}

pub(crate) fn shard_name(index: usize) -> String {
    format!("shard-{index:05}.bin")
}

fn starts_name(index: usize) -> String {
    format!("shard-{index:05}.starts.bin")
}

impl ShardWriter {
    pub(crate) fn new(dir: &Path, seq_len: usize, rows_per_shard: u64) -> io::Result<ShardWriter> {
        std::fs::create_dir_all(dir)?;
        Ok(ShardWriter {
            dir: dir.to_path_buf(),
            seq_len,
            rows_per_shard,
            current: None,
            done: Vec::new(),
        })
    }

    pub(crate) fn write_row(&mut self, tokens: &[u32], starts: &[u32]) -> io::Result<()> {
        debug_assert_eq!(tokens.len(), self.seq_len);
        if self.current.is_none() {
            let index = self.done.len();
            self.current = Some(OpenShard {
                index,
                rows: 0,
                tokens: HashedFile::create(self.dir.join(format!("{}.tmp", shard_name(index))))?,
                starts: HashedFile::create(self.dir.join(format!("{}.tmp", starts_name(index))))?,
            });
        }
        let shard = self.current.as_mut().expect("opened above");
        let mut buf = Vec::with_capacity(tokens.len() * 4);
        for t in tokens {
            buf.extend_from_slice(&t.to_le_bytes());
        }
        shard.tokens.write(&buf)?;
        let base = shard.rows * self.seq_len as u64;
        for &s in starts {
            shard.starts.write(&(base + s as u64).to_le_bytes())?;
        }
        shard.rows += 1;
        if shard.rows == self.rows_per_shard {
            self.close_current()?;
        }
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(shard) = self.current.take() {
            let tokens = shard.tokens.finish(&self.dir, &shard_name(shard.index))?;
            let starts = shard.starts.finish(&self.dir, &starts_name(shard.index))?;
            self.done.push(ShardInfo {
                file: tokens.file,
                sequences: shard.rows,
                tokens: shard.rows * self.seq_len as u64,
                bytes: tokens.bytes,
                xxh3: tokens.xxh3,
                companion: Some(starts),
            });
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<Vec<ShardInfo>> {
        self.close_current()?;
        Ok(self.done)
    }
}
