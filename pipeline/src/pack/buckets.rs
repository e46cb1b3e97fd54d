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
//!
//! A run whose rows fit in one bucket's worth of memory never needs the files: until they outgrow
//! the limit given to [`Buckets::hold`], or a checkpoint must make them durable, rows are held in
//! memory in the same record format, and phase 2 reads them from there in the same order, so the
//! output is the same bytes. Writing, syncing, mapping and unlinking a bucket file of a small run
//! cost about 6% of `arcade pack`'s CPU time on 21.5 MB of JSONL (benches/PACK_RESULTS.md).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::le;

/// Largest bucket shuffled in memory; larger ones are split on disk first.
pub(crate) const MAX_LOADED_BYTES: u64 = 384 << 20;

pub(crate) struct Buckets {
    seed: u64,
    shuffle: bool,
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
    lens: Vec<u64>,
    rows: u64,
    /// One row's bytes, so that a row is one write.
    buf: Vec<u8>,
    /// The rows written so far, while they are kept in memory instead of the files.
    held: Option<Box<Held>>,
}

/// Rows kept in memory: their records one after the other, in the files' format, as words.
struct Held {
    /// Room for `Buckets::hold`'s limit, mapped at once: address space, which becomes memory as
    /// rows are written. Marked for transparent huge pages where the system offers them, so that
    /// filling it takes a page fault per 2 MiB rather than per 4 KiB (with 4 KiB pages the faults
    /// cost as much as the file writes they replace).
    memory: memmap2::MmapMut,
    /// Words of `memory` in use.
    len: usize,
    /// The bucket and first word of each row, in the order written.
    rows: Vec<(u32, usize)>,
}

impl Held {
    /// None if the memory cannot be mapped: then the rows go to the files from the start.
    fn new(limit: u64) -> Option<Held> {
        let words = usize::try_from(limit / 4).ok()?.max(1);
        let memory = memmap2::MmapMut::map_anon(4 * words).ok()?;
        #[cfg(target_os = "linux")]
        let _ = memory.advise(memmap2::Advice::HugePage); // only a hint
        Some(Held {
            memory,
            len: 0,
            rows: Vec::new(),
        })
    }

    fn words(&self) -> &[u32] {
        &bytemuck::cast_slice(&self.memory[..])[..self.len]
    }

    /// Appends a row's record; false (and nothing appended) if it does not fit.
    fn push(&mut self, b: usize, tokens: &[u32], starts: &[u32]) -> bool {
        let words: &mut [u32] = bytemuck::cast_slice_mut(&mut self.memory[..]);
        let end = self.len + 1 + starts.len() + tokens.len();
        if end > words.len() {
            return false;
        }
        self.rows.push((b as u32, self.len));
        words[self.len] = starts.len() as u32;
        words[self.len + 1..self.len + 1 + starts.len()].copy_from_slice(starts);
        words[self.len + 1 + starts.len()..end].copy_from_slice(tokens);
        self.len = end;
        true
    }

    /// The records of each of `count` buckets: the offset of each, in the order written (the
    /// order of the bucket's file).
    fn rows_by_bucket(&self, count: usize) -> Vec<Vec<usize>> {
        let mut buckets = vec![Vec::new(); count];
        for &(b, at) in &self.rows {
            buckets[b as usize].push(at);
        }
        buckets
    }
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
            buf: Vec::new(),
            held: None,
        })
    }

    /// Keeps rows in memory, up to `limit` bytes of records, instead of writing them to the files
    /// (see the module comment). Only for buckets opened empty: resumed ones continue their files.
    pub(crate) fn hold(mut self, limit: u64) -> Self {
        if self.rows == 0 && self.lens.iter().all(|&l| l == 0) {
            self.held = Held::new(limit).map(Box::new);
        }
        self
    }

    /// Whether every row so far is held in memory: none is in the files yet.
    pub(crate) fn holds_rows(&self) -> bool {
        self.held.is_some()
    }

    /// Writes the held rows to their files, and stops holding.
    fn spill(&mut self) -> io::Result<()> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        let words = held.words();
        let ends = held.rows.iter().skip(1).map(|&(_, at)| at);
        for (&(b, at), end) in held.rows.iter().zip(ends.chain([words.len()])) {
            le::write_words(&mut self.files[b as usize], &words[at..end])?;
        }
        Ok(())
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
        if !self
            .held
            .as_mut()
            .is_some_and(|h| h.push(b, tokens, starts))
        {
            // Past the limit the held rows go to the files first, and every row after them.
            if self.held.is_some() {
                self.spill()?;
            }
            write_record(&mut self.files[b], &mut self.buf, tokens, starts)?;
        }
        self.lens[b] += 4 * (1 + starts.len() + tokens.len()) as u64;
        self.rows += 1;
        Ok(())
    }

    /// The seed of bucket `b`'s permutation, whether it is drained from memory or from its file.
    fn shuffle_seed(&self, b: usize) -> u64 {
        mix(self.seed ^ 0x5EED, b as u64)
    }

    /// Writes held rows out, syncs the files and returns the bucket lengths, for a checkpoint.
    pub(crate) fn flush(&mut self) -> io::Result<Vec<u64>> {
        self.spill()?;
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
        max_loaded_bytes: u64,
        mut out: impl FnMut(&[u32], &[u32]) -> io::Result<()>,
    ) -> io::Result<()> {
        // A bucket too big to shuffle in memory is split on disk (`shuffle_file`), which needs it
        // in its file.
        if self.lens.iter().any(|&len| len > max_loaded_bytes) {
            self.spill()?;
        }
        if let Some(held) = self.held.take() {
            for (b, mut rows) in held
                .rows_by_bucket(self.files.len())
                .into_iter()
                .enumerate()
            {
                if self.shuffle {
                    shuffle(&mut rows, self.shuffle_seed(b));
                }
                emit_rows(held.words(), &rows, seq_len, &mut out)?;
            }
            return Ok(());
        }
        // Flushed to the OS only: what is read back below comes from the page cache, and
        // durability is the end-of-reading checkpoint's job (`flush`), which has just synced all
        // but a padded final row; a crash from here on resumes from that checkpoint.
        for f in &mut self.files {
            f.flush()?;
        }
        drop(std::mem::take(&mut self.files));
        for (b, path) in self.paths.iter().enumerate() {
            if self.shuffle {
                shuffle_file(
                    path,
                    seq_len,
                    max_loaded_bytes,
                    self.shuffle_seed(b),
                    &mut out,
                )?;
            } else {
                stream_file(path, seq_len, &mut out)?;
            }
        }
        Ok(())
    }
}

/// Appends one row record to `out`.
fn write_record(
    out: &mut impl Write,
    buf: &mut Vec<u8>,
    tokens: &[u32],
    starts: &[u32],
) -> io::Result<()> {
    buf.clear();
    le::extend_bytes(buf, &[starts.len() as u32]);
    le::extend_bytes(buf, starts);
    out.write_all(buf)?;
    le::write_words(out, tokens)
}

fn damaged(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} ends inside a row; the run's temporary files are damaged, rerun with --overwrite",
            path.display()
        ),
    )
}

/// Fills `words` from `r`; false at a clean end of file before the first byte.
fn read_words(r: &mut impl Read, words: &mut [u32], path: &Path) -> io::Result<bool> {
    let bytes = le::bytes_of_mut(words);
    let mut filled = 0;
    while filled < bytes.len() {
        match r.read(&mut bytes[filled..])? {
            0 if filled == 0 => return Ok(false),
            0 => return Err(damaged(path)),
            n => filled += n,
        }
    }
    le::fix_read_words(words);
    Ok(true)
}

/// The rows of a bucket file in file order, through a fixed-size buffer: the unshuffled path,
/// and the splitting of oversized buckets, hold one row at a time.
fn stream_file(
    path: &Path,
    seq_len: usize,
    out: &mut impl FnMut(&[u32], &[u32]) -> io::Result<()>,
) -> io::Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let (mut n, mut starts, mut row) = ([0u32], Vec::new(), vec![0u32; seq_len]);
    while read_words(&mut r, &mut n, path)? {
        starts.resize(n[0] as usize, 0);
        if !read_words(&mut r, &mut starts, path)? || !read_words(&mut r, &mut row, path)? {
            return Err(damaged(path));
        }
        out(&row, &starts)?;
    }
    Ok(())
}

/// Emits a bucket's rows in a seeded random order. A bucket that fits in `max_loaded` bytes is
/// read into memory and permuted; a bigger one (the bucket count is fixed from an estimate before
/// any token exists, and token-dense input can beat it) is first split on disk into parts that do
/// fit, each then shuffled the same way. Memory stays bounded whatever the estimate said.
fn shuffle_file(
    path: &Path,
    seq_len: usize,
    max_loaded: u64,
    seed: u64,
    out: &mut impl FnMut(&[u32], &[u32]) -> io::Result<()>,
) -> io::Result<()> {
    let len = std::fs::metadata(path)?.len();
    if len > max_loaded {
        let parts = len.div_ceil(max_loaded / 2).max(2);
        let part_path = |k: u64| path.with_extension(format!("part{k:04}"));
        let mut files = (0..parts)
            .map(|k| File::create(part_path(k)).map(|f| BufWriter::with_capacity(1 << 16, f)))
            .collect::<io::Result<Vec<_>>>()?;
        let (mut buf, mut index) = (Vec::new(), 0u64);
        stream_file(path, seq_len, &mut |row, starts| {
            let k = (mix(seed ^ 0x5B1F, index) % parts) as usize;
            index += 1;
            write_record(&mut files[k], &mut buf, row, starts)
        })?;
        for f in &mut files {
            f.flush()?;
        }
        drop(files);
        for k in 0..parts {
            shuffle_file(&part_path(k), seq_len, max_loaded, mix(seed, k + 1), out)?;
            std::fs::remove_file(part_path(k))?;
        }
        return Ok(());
    }
    let file = File::open(path)?;
    let (mapped, mut read);
    let words: &[u32] = match map_words(&file, len) {
        Some(map) => {
            mapped = map;
            bytemuck::cast_slice(&mapped[..(len - len % 4) as usize])
        }
        None => {
            read = vec![0u32; (len / 4) as usize];
            let mut r = BufReader::with_capacity(1 << 20, file);
            // Straight into the words: no byte copy of the bucket exists next to them.
            for chunk in read.chunks_mut(1 << 18) {
                if !read_words(&mut r, chunk, path)? {
                    return Err(damaged(path));
                }
            }
            &read
        }
    };
    let mut rows = Vec::new();
    let mut at = 0;
    while at < words.len() {
        let end = at + 1 + words[at] as usize + seq_len;
        if end > words.len() {
            return Err(damaged(path));
        }
        rows.push(at);
        at = end;
    }
    shuffle(&mut rows, seed);
    emit_rows(words, &rows, seq_len, out)
}

/// Emits the records of `words` that start at `rows`, in that order.
fn emit_rows(
    words: &[u32],
    rows: &[usize],
    seq_len: usize,
    out: &mut impl FnMut(&[u32], &[u32]) -> io::Result<()>,
) -> io::Result<()> {
    for &at in rows {
        let n = words[at] as usize;
        out(
            &words[at + 1 + n..at + 1 + n + seq_len],
            &words[at + 1..at + 1 + n],
        )?;
    }
    Ok(())
}

/// The bucket file mapped into memory, on a little-endian machine, where its bytes already are the
/// words: the pages the OS holds for the file are read in place, instead of being copied into a
/// fresh buffer of the bucket's size (whose page faults were a fifth of a small run's, and the
/// copy a pass over every token). None (read it instead) elsewhere, for an empty file, or if
/// mapping fails.
fn map_words(file: &File, len: u64) -> Option<memmap2::Mmap> {
    if cfg!(target_endian = "big") || len < 4 {
        return None;
    }
    // SAFETY: the file is one of this run's temporary bucket files, which nothing writes to
    // while it is mapped (phase 1 has finished and closed it).
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    // Page-aligned, so the words' alignment holds; check rather than trust the platform.
    ((map.as_ptr() as usize).is_multiple_of(std::mem::align_of::<u32>()) && map.len() as u64 == len)
        .then_some(map)
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
            .drain(2, MAX_LOADED_BYTES, |row, starts| {
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

    #[test]
    fn oversized_buckets_are_split_on_disk_and_still_shuffled_whole() {
        let run = |limit: u64| {
            let dir = tempfile::tempdir().unwrap();
            let mut buckets = Buckets::open(dir.path(), "t", 1, 7, true, None).unwrap();
            for r in 0..500u32 {
                buckets.write(&[r, r ^ 0xFFFF], &[]).unwrap();
            }
            let mut seen = Vec::new();
            // 500 rows of 12 bytes: a 1000-byte limit forces a split into parts, and parts of parts.
            buckets
                .drain(2, limit, |row, _| {
                    assert_eq!(row[1], row[0] ^ 0xFFFF);
                    seen.push(row[0]);
                    Ok(())
                })
                .unwrap();
            let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
            (seen, leftovers)
        };
        let (split, leftovers) = run(1000);
        assert_eq!(leftovers, 1, "part files are removed after use");
        assert_eq!(split, run(1000).0, "splitting is deterministic");
        assert_ne!(split, run(MAX_LOADED_BYTES).0);
        let mut sorted = split.clone();
        sorted.sort();
        assert_eq!(sorted, (0..500).collect::<Vec<_>>());
        assert_ne!(split[..100], sorted[..100], "rows were not shuffled");
    }

    /// One bucket file `t-0000.rows` in `dir` holding rows `[r, r + 1, r + 2]` with document
    /// starts `[0, 2]`, for r in 0..50.
    fn fifty_rows(dir: &Path, shuffle: bool) -> Buckets {
        let mut buckets = Buckets::open(dir, "t", 1, 7, shuffle, None).unwrap();
        for r in 0..50u32 {
            buckets.write(&[r, r + 1, r + 2], &[0, 2]).unwrap();
        }
        buckets
    }

    #[test]
    fn unshuffled_drain_streams_rows_in_order_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let buckets = fifty_rows(dir.path(), false);
        let mut seen = Vec::new();
        buckets
            .drain(3, MAX_LOADED_BYTES, |row, starts| {
                assert_eq!(starts, &[0, 2]);
                seen.push(row[0]);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());

        let path = dir.path().join("t-0000.rows");
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 4)
            .unwrap();
        let err = stream_file(&path, 3, &mut |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("ends inside a row"), "{err}");
    }

    #[test]
    fn shuffled_drain_reads_the_mapped_bucket_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut buckets = fifty_rows(dir.path(), true);
        buckets.flush().unwrap();
        drop(buckets);
        let path = dir.path().join("t-0000.rows");
        let rows = |path: &Path| {
            let mut seen = Vec::new();
            shuffle_file(path, 3, MAX_LOADED_BYTES, 9, &mut |row, starts| {
                assert_eq!(
                    (row[1], row[2], starts),
                    (row[0] + 1, row[0] + 2, &[0, 2][..])
                );
                seen.push(row[0]);
                Ok(())
            })
            .map(|()| seen)
        };
        let mut seen = rows(&path).unwrap();
        assert_ne!(seen, (0..50).collect::<Vec<_>>(), "rows were not shuffled");
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        // A whole word missing, or a trailing part of one: either way the last row is cut.
        let len = std::fs::metadata(&path).unwrap().len();
        for cut in [4, 2] {
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(len - cut).unwrap();
            let err = rows(&path).unwrap_err();
            assert!(err.to_string().contains("ends inside a row"), "{err}");
        }
    }

    /// Rows of varying document starts through `buckets`, then drained: (row, starts) in order.
    fn rows_through(mut buckets: Buckets, count: u32) -> Vec<(Vec<u32>, Vec<u32>)> {
        for r in 0..count {
            let starts: Vec<u32> = (0..r % 3).collect();
            buckets.write(&[r, r * 7, r ^ 0x55], &starts).unwrap();
        }
        let mut out = Vec::new();
        buckets
            .drain(3, MAX_LOADED_BYTES, |row, starts| {
                out.push((row.to_vec(), starts.to_vec()));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn held_rows_drain_as_the_files_do_and_spill_past_the_limit() {
        for (count, shuffle) in [(1, false), (1, true), (4, true)] {
            let dir = tempfile::tempdir().unwrap();
            let open =
                |prefix: &str| Buckets::open(dir.path(), prefix, count, 11, shuffle, None).unwrap();
            let from_files = rows_through(open("files"), 200);
            assert_eq!(from_files.len(), 200);
            // All held; held then spilled midway (records are 16 to 24 bytes).
            for (prefix, limit) in [("held", 1 << 20), ("spilt", 1000)] {
                let buckets = open(prefix).hold(limit);
                assert!(buckets.holds_rows());
                assert_eq!(
                    rows_through(buckets, 200),
                    from_files,
                    "{prefix}, {count} buckets"
                );
            }
            let bytes = |prefix: &str| -> u64 {
                (0..count)
                    .map(|b| {
                        let path = dir.path().join(format!("{prefix}-{b:04}.rows"));
                        std::fs::metadata(path).unwrap().len()
                    })
                    .sum()
            };
            assert_eq!(bytes("held"), 0, "held rows never touch the files");
            assert_eq!(
                bytes("spilt"),
                bytes("files"),
                "spilt rows all reach the files"
            );
        }
    }

    #[test]
    fn a_checkpoint_writes_held_rows_to_the_files_it_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut buckets = Buckets::open(dir.path(), "t", 3, 5, true, None)
            .unwrap()
            .hold(1 << 20);
        for r in 0..30u32 {
            buckets.write(&[r, r + 1], &[0]).unwrap();
        }
        let lens = buckets.flush().unwrap();
        assert!(!buckets.holds_rows());
        for (b, len) in lens.iter().enumerate() {
            let path = dir.path().join(format!("t-{b:04}.rows"));
            assert_eq!(std::fs::metadata(path).unwrap().len(), *len);
        }
        assert_eq!(lens.iter().sum::<u64>(), 30 * 16);
        // Buckets resumed from files continue them, and are not held.
        let resumed = Buckets::open(dir.path(), "t", 3, 5, true, Some((&lens, 30)))
            .unwrap()
            .hold(1 << 20);
        assert!(!resumed.holds_rows());
    }
}
