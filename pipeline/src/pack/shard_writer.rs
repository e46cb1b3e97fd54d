//! Writing rows into `shard-NNNNN.bin` files of a fixed number of rows.
//!
//! Each shard and its starts file is a [`DurableFile`]: written under a temporary name (`.tmp`),
//! checksummed as it is written, synced and only then renamed, so a file named
//! `shard-NNNNN.bin` is always complete.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::durable::DurableFile;
use crate::le;
use crate::manifest::ShardInfo;

pub(crate) struct ShardWriter {
    dir: PathBuf,
    seq_len: usize,
    rows_per_shard: u64,
    current: Option<OpenShard>,
    done: Vec<ShardInfo>,
    /// One row's bytes, reused from row to row.
    buf: Vec<u8>,
}

struct OpenShard {
    rows: u64,
    tokens: DurableFile,
    starts: DurableFile,
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
            buf: Vec::new(),
        })
    }

    pub(crate) fn write_row(&mut self, tokens: &[u32], starts: &[u32]) -> io::Result<()> {
        debug_assert_eq!(tokens.len(), self.seq_len);
        if self.current.is_none() {
            let index = self.done.len();
            self.current = Some(OpenShard {
                rows: 0,
                tokens: DurableFile::create(&self.dir.join(shard_name(index)))?,
                starts: DurableFile::create(&self.dir.join(starts_name(index)))?,
            });
        }
        let shard = self.current.as_mut().expect("opened above");
        le::write_words(&mut shard.tokens, tokens)?;
        let base = shard.rows * self.seq_len as u64;
        self.buf.clear();
        for &s in starts {
            self.buf.extend_from_slice(&(base + s as u64).to_le_bytes());
        }
        shard.starts.write_all(&self.buf)?;
        shard.rows += 1;
        if shard.rows == self.rows_per_shard {
            self.close_current()?;
        }
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(shard) = self.current.take() {
            let tokens = shard.tokens.finish()?;
            let starts = shard.starts.finish()?;
            self.done.push(ShardInfo {
                file: tokens.file,
                sequences: shard.rows,
                tokens: shard.rows * self.seq_len as u64,
                bytes: tokens.bytes,
                xxh3: tokens.xxh3,
                companion: Some(starts),
            });
            super::test_hooks::after_shard();
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<Vec<ShardInfo>> {
        self.close_current()?;
        Ok(self.done)
    }
}
