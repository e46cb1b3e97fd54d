//! Global shuffle of rows without holding the corpus in memory.
//!
//! Phase 1 scatters each row to one of B bucket files on disk, chosen by a hash of the seed and
//! the row's index. Phase 2 reads one bucket at a time, permutes its rows with a PRNG seeded by the
//! seed and the bucket number, and writes them out. Choosing a random bucket and then a random
//! place inside it is a uniformly random permutation of all rows, while memory holds one bucket.
//! Without shuffling there is a single bucket and no permutation, so both modes share one path.
//!
//! A row is stored as `u32 n`, `n` × `u32` document starts, then `seq_len` × `u32` tokens, all
//! little-endian. Bucket files are only ever appended to, so truncating them to the lengths in a
//! checkpoint restores them exactly: that is what makes `--resume` byte-identical.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub(crate) struct Buckets {
    seed: u64,
    shuffle: bool,
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
    lens: Vec<u64>,
    rows: u64,
}

impl Buckets {
    /// Opens (creating or truncating to `lens`) the bucket files `{prefix}-NNNN.rows` in `dir`.
    pub(crate) fn open(
        dir: &Path,
        prefix: &str,
        count: usize,
        seed: u64,
        shuffle: bool,
        resume: Option<(&[u64], u64)>,
    ) -> io::Result<Buckets> {
        let mut files = Vec::with_capacity(count);
        let mut paths = Vec::with_capacity(count);
        let mut lens = vec![0; count];
        for b in 0..count {
            let path = dir.join(format!("{prefix}-{b:04}.rows"));
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false)
                .open(&path)?;
            let len = resume.map_or(0, |(l, _)| l[b]);
            file.set_len(len)?;
            let mut file = BufWriter::with_capacity(1 << 16, file);
            io::Seek::seek(file.get_mut(), io::SeekFrom::Start(len))?;
            lens[b] = len;
            files.push(file);
            paths.push(path);
        }
        Ok(Buckets {
            seed,
            shuffle,
            files,
            paths,
            lens,
            rows: resume.map_or(0, |(_, r)| r),
        })
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    pub(crate) fn write(&mut self, tokens: &[u32], starts: &[u32]) -> io::Result<()> {
        let b = if self.files.len() == 1 {
            0
        } else {
            (mix(self.seed ^ 0xB0C4, self.rows) % self.files.len() as u64) as usize
        };
        let out = &mut self.files[b];
        out.write_all(&(starts.len() as u32).to_le_bytes())?;
        for v in starts.iter().chain(tokens) {
            out.write_all(&v.to_le_bytes())?;
        }
        self.lens[b] += 4 * (1 + starts.len() + tokens.len()) as u64;
        self.rows += 1;
        Ok(())
    }

    /// Flushes to the OS and returns the bucket lengths, for a checkpoint.
    pub(crate) fn flush(&mut self) -> io::Result<Vec<u64>> {
        for f in &mut self.files {
            f.flush()?;
            f.get_ref().sync_data()?;
        }
        Ok(self.lens.clone())
    }

    /// Phase 2: every row, bucket by bucket, permuted within each bucket when shuffling.
    pub(crate) fn drain(
        mut self,
        seq_len: usize,
        mut out: impl FnMut(&[u32], &[u32]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.flush()?;
        let files = std::mem::take(&mut self.files);
        drop(files);
        let mut data = Vec::new();
        for (b, path) in self.paths.iter().enumerate() {
            data.clear();
            File::open(path)?.read_to_end(&mut data)?;
            let words: Vec<u32> = data
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let mut rows = Vec::new();
            let mut at = 0;
            while at < words.len() {
                let n = words[at] as usize;
                let end = at + 1 + n + seq_len;
                if end > words.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} ends inside a row; the run's temporary files are damaged, rerun with --overwrite", path.display()),
                    ));
                }
                rows.push(at);
                at = end;
            }
            if self.shuffle {
                shuffle(&mut rows, mix(self.seed ^ 0x5EED, b as u64));
            }
            for &at in &rows {
                let n = words[at] as usize;
                out(
                    &words[at + 1 + n..at + 1 + n + seq_len],
                    &words[at + 1..at + 1 + n],
                )?;
            }
        }
        Ok(())
    }
}

/// A well-mixed 64-bit hash of two words (the SplitMix64 finalizer). Written here rather than
/// taken from a crate so that shard bytes can never change with a dependency upgrade.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fisher–Yates with a SplitMix64 stream.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(1);
        let r = mix(seed, state);
        // Lemire's multiply-shift maps r onto 0..=i; its bias (< i / 2^64) is immaterial here.
        let j = ((r as u128 * (i as u128 + 1)) >> 64) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_seed() {
        let mut a: Vec<u32> = (0..1000).collect();
        let mut b = a.clone();
        shuffle(&mut a, 1);
        shuffle(&mut b, 2);
        assert_ne!(a, b);
        assert_ne!(a, (0..1000).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn drain_returns_every_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut buckets = Buckets::open(dir.path(), "t", 3, 7, true, None).unwrap();
        for r in 0..50u32 {
            buckets.write(&[r, r + 1000], &[r % 2]).unwrap();
        }
        let mut seen = Vec::new();
        buckets
            .drain(2, |row, starts| {
                assert_eq!(row[1], row[0] + 1000);
                assert_eq!(starts, &[row[0] % 2]);
                seen.push(row[0]);
                Ok(())
            })
            .unwrap();
        assert_ne!(seen, (0..50).collect::<Vec<_>>(), "rows were not shuffled");
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}
