//! The Megatron-LM / gpt-neox `MMapIndexedDataset` format: `PREFIX.bin` + `PREFIX.idx`, byte for
//! byte as gpt-neox's `megatron/data/indexed_dataset.py` and megatron-core's
//! `indexed_dataset.py` write and read it.
//!
//! ```text
//! PREFIX.idx                                   (all integers little-endian, no padding)
//!   offset 0   9 bytes   magic  b"MMIDIDX\x00\x00"
//!   offset 9   u64       version, 1
//!   offset 17  u8        dtype code of the .bin: 4 = int32, 8 = uint16
//!                        (also 1 uint8, 2 int8, 3 int16, 5 int64, 6/7 floats; not read here)
//!   offset 18  u64       N, the number of sequences
//!   offset 26  u64       M, the number of document-index entries
//!   offset 34  i32[N]    sizes: tokens in each sequence
//!              i64[N]    pointers: byte offset of each sequence in the .bin
//!                        (pointer[0] = 0, pointer[i+1] = pointer[i] + size[i] * itemsize)
//!              i64[M]    doc_idx: 0, then the number of sequences after each document
//! PREFIX.bin   the tokens of sequence 0, 1, ... back to back, in the dtype
//! ```
//!
//! The file is `34 + 12 N + 8 M` bytes. arcade writes one sequence per document (the caller
//! appends the EOD token), so `doc_idx` is `0, 1, ..., N` and `M = N + 1`. The dtype follows
//! gpt-neox's `best_fitting_dtype` / megatron-core's `DType.optimal_dtype`: uint16 for a
//! vocabulary of fewer than 65,500 ids, int32 otherwise (Arcade100k needs int32).
//!
//! [`MegatronWriter`] streams: tokens go to `PREFIX.bin.tmp` and each sequence's size to
//! `PREFIX.sizes.tmp` as documents arrive, so memory does not grow with the number of documents;
//! [`MegatronWriter::finish`] builds `PREFIX.idx` from the sizes file in two streaming passes
//! and renames the files into place. [`MegatronWriter::state`] / [`MegatronWriter::resume`]
//! let an interrupted run continue from a checkpoint. [`MegatronIndex`] memory-maps and
//! validates a dataset; [`merge`] concatenates datasets.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{self, io_err, DurableFile, FileError};
use crate::manifest::{FileInfo, ShardInfo};

/// The first 9 bytes of every `.idx` file.
pub const INDEX_MAGIC: &[u8; 9] = b"MMIDIDX\x00\x00";
/// The only index version there is.
pub const INDEX_VERSION: u64 = 1;
/// Bytes before the `sizes` array: magic, version, dtype code, N, M.
pub const INDEX_HEADER_LEN: u64 = 9 + 8 + 1 + 8 + 8;

/// The magic of the older, non-mmap `IndexedDataset` (`lazy` / `cached` impls).
const OLD_INDEX_MAGIC: &[u8; 8] = b"TNTIDX\x00\x00";
/// Items per chunk when streaming the integer arrays.
const CHUNK_ITEMS: usize = 1 << 15;

/// Token dtype of a `.bin` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MegatronDtype {
    /// numpy `uint16`, code 8: vocabularies of fewer than 65,500 ids.
    Uint16,
    /// numpy `int32`, code 4: any larger vocabulary.
    Int32,
}

impl MegatronDtype {
    /// What gpt-neox's `best_fitting_dtype(vocab_size)` picks.
    pub fn for_vocab_size(vocab_size: usize) -> MegatronDtype {
        if vocab_size < 65_500 {
            MegatronDtype::Uint16
        } else {
            MegatronDtype::Int32
        }
    }

    /// The code stored in the index header.
    pub fn code(self) -> u8 {
        match self {
            MegatronDtype::Uint16 => 8,
            MegatronDtype::Int32 => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<MegatronDtype> {
        match code {
            8 => Some(MegatronDtype::Uint16),
            4 => Some(MegatronDtype::Int32),
            _ => None,
        }
    }

    /// Bytes per token.
    pub fn itemsize(self) -> u64 {
        match self {
            MegatronDtype::Uint16 => 2,
            MegatronDtype::Int32 => 4,
        }
    }

    /// The numpy dtype string (`<u2`, `<i4`).
    pub fn numpy(self) -> &'static str {
        match self {
            MegatronDtype::Uint16 => "<u2",
            MegatronDtype::Int32 => "<i4",
        }
    }

    /// The numpy type name (`uint16`, `int32`).
    pub fn name(self) -> &'static str {
        match self {
            MegatronDtype::Uint16 => "uint16",
            MegatronDtype::Int32 => "int32",
        }
    }

    /// The largest token id the dtype holds.
    pub fn max_token(self) -> u32 {
        match self {
            MegatronDtype::Uint16 => u16::MAX as u32,
            MegatronDtype::Int32 => i32::MAX as u32,
        }
    }
}

impl std::fmt::Display for MegatronDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of a dtype code of the format, for messages about codes arcade does not read.
fn dtype_code_name(code: u8) -> &'static str {
    match code {
        1 => "uint8",
        2 => "int8",
        3 => "int16",
        4 => "int32",
        5 => "int64",
        6 => "float64 (gpt-neox) / float32 (megatron-core)",
        7 => "float64 (double)",
        8 => "uint16",
        _ => "not a dtype code of the format",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MegatronError {
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        /// Shown in the message, not chained, so `{:#}` does not print it twice.
        error: io::Error,
    },
    /// The file is not a valid dataset file, or does not fit what it is used for.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

pub type Result<T, E = MegatronError> = std::result::Result<T, E>;

impl From<FileError> for MegatronError {
    fn from(e: FileError) -> MegatronError {
        MegatronError::Io {
            action: e.action,
            path: e.path,
            error: e.error,
        }
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> MegatronError {
    MegatronError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// `prefix` + `suffix`, without treating dots in the prefix as an extension (`data.v2` + `.bin`).
pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `PREFIX.bin` of a dataset prefix.
pub fn bin_path(prefix: &Path) -> PathBuf {
    with_suffix(prefix, ".bin")
}

/// `PREFIX.idx` of a dataset prefix.
pub fn idx_path(prefix: &Path) -> PathBuf {
    with_suffix(prefix, ".idx")
}

/// The dataset prefix of a path given as `PREFIX`, `PREFIX.bin` or `PREFIX.idx`.
pub fn prefix_of(path: &Path) -> PathBuf {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return path.to_path_buf();
    };
    for ext in [".bin", ".idx"] {
        if let Some(stem) = name.strip_suffix(ext) {
            if !stem.is_empty() {
                return path.with_file_name(stem);
            }
        }
    }
    path.to_path_buf()
}

/// Where a [`MegatronWriter`] was when [`MegatronWriter::state`] was called: everything up to
/// these lengths is on disk (flushed and synced). Store it in a checkpoint and hand it to
/// [`MegatronWriter::resume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MegatronState {
    pub dtype: MegatronDtype,
    /// Sequences (= documents) written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// Length of `PREFIX.bin.tmp`: `tokens * itemsize`.
    pub bin_bytes: u64,
    /// Length of `PREFIX.sizes.tmp`: `documents * 4`.
    pub sizes_bytes: u64,
}

/// Writes one `PREFIX.bin` + `PREFIX.idx` dataset, one sequence per document.
pub struct MegatronWriter {
    paths: Paths,
    dtype: MegatronDtype,
    bin: DurableFile,
    sizes: BufWriter<File>,
    documents: u64,
    tokens: u64,
    buf: Vec<u8>,
}

impl MegatronWriter {
    /// Starts `dir/PREFIX.bin` + `dir/PREFIX.idx` (creating `dir` if needed). Until
    /// [`finish`](Self::finish) the data lives in `PREFIX.bin.tmp` and `PREFIX.sizes.tmp`;
    /// temporary files of an earlier run are truncated.
    pub fn create(dir: &Path, prefix: &str, dtype: MegatronDtype) -> Result<MegatronWriter> {
        check_prefix(dir, prefix)?;
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let paths = Paths::new(dir, prefix);
        let bin = DurableFile::create(&paths.bin)?;
        // Read back by `finish`.
        let sizes = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&paths.sizes_tmp)
            .map_err(io_err("create", &paths.sizes_tmp))?;
        Ok(MegatronWriter {
            paths,
            dtype,
            bin,
            sizes: BufWriter::with_capacity(1 << 16, sizes),
            documents: 0,
            tokens: 0,
            buf: Vec::new(),
        })
    }

    /// Continues a dataset from a [`state`](Self::state) taken earlier: the temporary files are
    /// checked against it (long enough, and the sizes adding up to the tokens) and only then
    /// truncated to its lengths, dropping whatever was written after it. A failed check leaves
    /// the files as they were.
    pub fn resume(dir: &Path, prefix: &str, state: &MegatronState) -> Result<MegatronWriter> {
        check_prefix(dir, prefix)?;
        let paths = Paths::new(dir, prefix);
        let itemsize = state.dtype.itemsize();
        if state.bin_bytes != state.tokens * itemsize || state.sizes_bytes != state.documents * 4 {
            return Err(invalid(
                &paths.bin_tmp,
                format!(
                    "cannot resume: the checkpoint state is inconsistent ({} tokens of {} should be \
                     {} bytes, not {}; {} documents should be {} bytes of sizes, not {})",
                    state.tokens,
                    state.dtype,
                    state.tokens * itemsize,
                    state.bin_bytes,
                    state.documents,
                    state.documents * 4,
                    state.sizes_bytes
                ),
            ));
        }
        let bin = open_for_resume(&paths.bin_tmp, state.bin_bytes)?;
        let mut sizes = open_for_resume(&paths.sizes_tmp, state.sizes_bytes)?;

        // The sizes must add up to the tokens, or the two files are not from the same run.
        let mut total = 0u64;
        for_each_i32(
            &mut BufReader::new(&mut sizes),
            state.documents,
            &paths.sizes_tmp,
            |_, size| total += size as u64,
        )?;
        if total != state.tokens {
            return Err(invalid(
                &paths.sizes_tmp,
                format!(
                    "cannot resume: the first {} sizes add up to {total} tokens, but the checkpoint \
                     says {} (the temporary files are not the ones the checkpoint describes)",
                    state.documents, state.tokens
                ),
            ));
        }

        // Only now that the files match the state: drop whatever was written after it (the .bin
        // re-hashes what it keeps, so its final checksum covers the whole file).
        let bin = DurableFile::resume(&paths.bin, bin, state.bin_bytes)?;
        sizes
            .set_len(state.sizes_bytes)
            .map_err(io_err("truncate", &paths.sizes_tmp))?;
        sizes
            .seek(SeekFrom::End(0))
            .map_err(io_err("seek", &paths.sizes_tmp))?;

        Ok(MegatronWriter {
            paths,
            dtype: state.dtype,
            bin,
            sizes: BufWriter::with_capacity(1 << 16, sizes),
            documents: state.documents,
            tokens: state.tokens,
            buf: Vec::new(),
        })
    }

    pub fn dtype(&self) -> MegatronDtype {
        self.dtype
    }

    /// Documents written so far.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Tokens written so far.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Appends one document as one sequence. The caller includes the EOD token.
    pub fn add_document(&mut self, tokens: &[u32]) -> Result<()> {
        let paths = &self.paths;
        let size = i32::try_from(tokens.len()).map_err(|_| {
            invalid(
                &paths.bin_tmp,
                format!(
                    "document {} has {} tokens; the format stores sizes as int32",
                    self.documents,
                    tokens.len()
                ),
            )
        })?;
        let max = self.dtype.max_token();
        if let Some(position) = tokens.iter().position(|&t| t > max) {
            return Err(invalid(
                &paths.bin_tmp,
                format!(
                    "document {} has token id {} at position {position}, which does not fit {} \
                     (largest {max}); write this vocabulary as int32",
                    self.documents, tokens[position], self.dtype
                ),
            ));
        }
        self.buf.clear();
        match self.dtype {
            MegatronDtype::Uint16 => {
                self.buf.reserve(tokens.len() * 2);
                for &t in tokens {
                    self.buf.extend_from_slice(&(t as u16).to_le_bytes());
                }
            }
            MegatronDtype::Int32 => {
                self.buf.reserve(tokens.len() * 4);
                for &t in tokens {
                    self.buf.extend_from_slice(&(t as i32).to_le_bytes());
                }
            }
        }
        self.bin
            .write_all(&self.buf)
            .map_err(io_err("write", &paths.bin_tmp))?;
        self.sizes
            .write_all(&size.to_le_bytes())
            .map_err(io_err("write", &paths.sizes_tmp))?;
        self.documents += 1;
        self.tokens += tokens.len() as u64;
        Ok(())
    }

    /// Flushes and syncs both temporary files and returns their lengths, for a checkpoint.
    pub fn state(&mut self) -> Result<MegatronState> {
        let paths = &self.paths;
        self.bin.sync()?;
        self.sizes
            .flush()
            .map_err(io_err("write", &paths.sizes_tmp))?;
        self.sizes
            .get_ref()
            .sync_data()
            .map_err(io_err("sync", &paths.sizes_tmp))?;
        Ok(MegatronState {
            dtype: self.dtype,
            documents: self.documents,
            tokens: self.tokens,
            bin_bytes: self.bin.bytes(),
            sizes_bytes: self.documents * 4,
        })
    }

    /// Writes `PREFIX.idx`, renames both files into place and removes `PREFIX.sizes.tmp`.
    /// Returns the `.bin` (with the `.idx` as its companion) and the `.idx`.
    pub fn finish(self) -> Result<(ShardInfo, FileInfo)> {
        let MegatronWriter {
            paths,
            dtype,
            bin,
            sizes,
            documents,
            tokens,
            ..
        } = self;
        let bin_bytes = bin.bytes();
        let bin = bin.close()?;

        let mut sizes = sizes
            .into_inner()
            .map_err(|e| io_err("write", &paths.sizes_tmp)(e.into_error()))?;

        let mut idx = DurableFile::create(&paths.idx)?;
        let werr = io_err("write", &paths.idx_tmp);
        write_header(&mut idx, dtype, documents, documents + 1).map_err(&werr)?;
        // sizes: the temporary file holds them exactly as the index does.
        sizes
            .seek(SeekFrom::Start(0))
            .map_err(io_err("read", &paths.sizes_tmp))?;
        let copied = io::copy(&mut (&mut sizes).take(documents * 4), &mut idx)
            .map_err(io_err("copy", &paths.sizes_tmp))?;
        if copied != documents * 4 {
            return Err(invalid(
                &paths.sizes_tmp,
                format!(
                    "has {copied} bytes, expected {} for {documents} sequences",
                    documents * 4
                ),
            ));
        }
        // pointers: a second pass over the sizes.
        sizes
            .seek(SeekFrom::Start(0))
            .map_err(io_err("read", &paths.sizes_tmp))?;
        let mut pointer = 0i64;
        let mut write_result = Ok(());
        let itemsize = dtype.itemsize() as i64;
        for_each_i32(
            &mut BufReader::new(&mut sizes),
            documents,
            &paths.sizes_tmp,
            |_, size| {
                if write_result.is_ok() {
                    write_result = idx.write_all(&pointer.to_le_bytes());
                }
                pointer += size as i64 * itemsize;
            },
        )?;
        write_result.map_err(&werr)?;
        if pointer as u64 != bin_bytes {
            return Err(invalid(
                &paths.sizes_tmp,
                format!(
                    "the sizes add up to {} bytes of tokens but {} has {bin_bytes}",
                    pointer,
                    paths.bin_tmp.display()
                ),
            ));
        }
        // doc_idx: one sequence per document.
        let mut chunk = Vec::with_capacity(CHUNK_ITEMS * 8);
        let mut next = 0u64;
        while next <= documents {
            chunk.clear();
            let end = (next + CHUNK_ITEMS as u64).min(documents + 1);
            for d in next..end {
                chunk.extend_from_slice(&(d as i64).to_le_bytes());
            }
            idx.write_all(&chunk).map_err(&werr)?;
            next = end;
        }
        let idx = idx.close()?;
        drop(sizes);

        let bin = bin.rename()?;
        let idx = idx.rename()?;
        fs::remove_file(&paths.sizes_tmp).map_err(io_err("remove", &paths.sizes_tmp))?;
        durable::sync_dir(&paths.dir);
        Ok(dataset_info(bin, idx, documents, tokens))
    }
}

/// A finished dataset as the manifest lists it: the `.bin` with the `.idx` as its companion,
/// and the `.idx`.
fn dataset_info(
    bin: FileInfo,
    idx: FileInfo,
    sequences: u64,
    tokens: u64,
) -> (ShardInfo, FileInfo) {
    let bin = ShardInfo {
        file: bin.file,
        sequences,
        tokens,
        bytes: bin.bytes,
        xxh3: bin.xxh3,
        companion: Some(idx.clone()),
    };
    (bin, idx)
}

/// The files of a dataset being written.
struct Paths {
    dir: PathBuf,
    bin: PathBuf,
    idx: PathBuf,
    bin_tmp: PathBuf,
    idx_tmp: PathBuf,
    sizes_tmp: PathBuf,
}

impl Paths {
    fn new(dir: &Path, prefix: &str) -> Paths {
        Paths::with_dir(dir.to_path_buf(), &dir.join(prefix))
    }

    /// For an output given as a full prefix path.
    fn for_prefix(prefix: &Path) -> Paths {
        let dir = match prefix.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Paths::with_dir(dir, prefix)
    }

    fn with_dir(dir: PathBuf, prefix: &Path) -> Paths {
        let (bin, idx) = (bin_path(prefix), idx_path(prefix));
        Paths {
            dir,
            bin_tmp: durable::tmp_path(&bin),
            idx_tmp: durable::tmp_path(&idx),
            bin,
            idx,
            sizes_tmp: with_suffix(prefix, ".sizes.tmp"),
        }
    }
}

fn check_prefix(dir: &Path, prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.contains('/') || prefix.contains('\\') {
        return Err(invalid(
            dir,
            format!("`{prefix}` is not a dataset prefix (a file name without directories)"),
        ));
    }
    Ok(())
}

fn open_for_resume(path: &Path, len: u64) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open for resuming", path))?;
    let actual = file.metadata().map_err(io_err("stat", path))?.len();
    if actual < len {
        return Err(invalid(
            path,
            format!(
                "cannot resume: the file has {actual} bytes, fewer than the {len} the checkpoint \
                 recorded as written (was it truncated or replaced?)"
            ),
        ));
    }
    Ok(file)
}

fn write_header(
    w: &mut impl Write,
    dtype: MegatronDtype,
    sequences: u64,
    doc_idx_len: u64,
) -> io::Result<()> {
    w.write_all(INDEX_MAGIC)?;
    w.write_all(&INDEX_VERSION.to_le_bytes())?;
    w.write_all(&[dtype.code()])?;
    w.write_all(&sequences.to_le_bytes())?;
    w.write_all(&doc_idx_len.to_le_bytes())
}

/// Reads `count` little-endian i32 from `reader`, in chunks.
fn for_each_i32(
    reader: &mut impl Read,
    count: u64,
    path: &Path,
    mut f: impl FnMut(u64, i32),
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK_ITEMS * 4];
    let mut done = 0u64;
    while done < count {
        let items = (count - done).min(CHUNK_ITEMS as u64) as usize;
        reader.read_exact(&mut buf[..items * 4]).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                invalid(
                    path,
                    format!("ends before its {count} sizes (after about {done})"),
                )
            } else {
                io_err("read", path)(e).into()
            }
        })?;
        for (k, b) in buf[..items * 4].chunks_exact(4).enumerate() {
            f(done + k as u64, i32::from_le_bytes(b.try_into().unwrap()));
        }
        done += items as u64;
    }
    Ok(())
}

/// A read-only memory map, or nothing for an empty file (which cannot be mapped everywhere).
pub(crate) enum Mapped {
    Empty,
    Map(memmap2::Mmap),
}

impl Mapped {
    pub(crate) fn open(path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Mapped::Empty);
        }
        // SAFETY: the map is read-only; arcade never modifies a finished file in place (writers
        // write temporary files and rename them). Another process truncating the file while it is
        // mapped would fault, as with any memory-mapped reader (numpy's memmap included).
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped::Map(map))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Mapped::Empty => &[],
            Mapped::Map(m) => m,
        }
    }

    /// The bytes as `T`s, in the host's byte order (readers check for a little-endian host).
    /// Panics unless they are a whole number of aligned `T`s: maps are page-aligned, and
    /// callers check the length when they open the file. `path` is for the message.
    pub(crate) fn as_slice<T: Plain>(&self, path: &Path) -> &[T] {
        // SAFETY: `T: Plain`, so any bits are a valid `T`; `align_to` leaves the bytes that do
        // not make a whole aligned `T` in `head` and `tail`, which must be empty.
        let (head, body, tail) = unsafe { self.bytes().align_to::<T>() };
        assert!(
            head.is_empty() && tail.is_empty(),
            "misaligned map of {}",
            path.display()
        );
        body
    }
}

/// An integer type of a mapped file.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value.
pub(crate) unsafe trait Plain: Copy {}

// SAFETY: primitive integers have no invalid bit patterns.
unsafe impl Plain for u16 {}
unsafe impl Plain for i32 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}

/// The tokens of one sequence (or a run of them), borrowed from the memory-mapped `.bin`.
#[derive(Debug, Clone, Copy)]
pub enum Sequence<'a> {
    Uint16(&'a [u16]),
    Int32(&'a [i32]),
}

impl<'a> Sequence<'a> {
    pub fn len(&self) -> usize {
        match self {
            Sequence::Uint16(s) => s.len(),
            Sequence::Int32(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Token `j` as u32 (an int32 token is reinterpreted, so a negative one becomes huge).
    pub fn get(&self, j: usize) -> Option<u32> {
        match self {
            Sequence::Uint16(s) => s.get(j).map(|&t| t as u32),
            Sequence::Int32(s) => s.get(j).map(|&t| t as u32),
        }
    }

    pub fn iter(&self) -> SequenceIter<'a> {
        match *self {
            Sequence::Uint16(s) => SequenceIter::Uint16(s.iter()),
            Sequence::Int32(s) => SequenceIter::Int32(s.iter()),
        }
    }

    pub fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// The tokens `range` of this sequence.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Sequence<'a> {
        match *self {
            Sequence::Uint16(s) => Sequence::Uint16(&s[range]),
            Sequence::Int32(s) => Sequence::Int32(&s[range]),
        }
    }
}

impl<'a> IntoIterator for Sequence<'a> {
    type Item = u32;
    type IntoIter = SequenceIter<'a>;
    fn into_iter(self) -> SequenceIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Sequence`]'s tokens as u32.
#[derive(Debug, Clone)]
pub enum SequenceIter<'a> {
    Uint16(std::slice::Iter<'a, u16>),
    Int32(std::slice::Iter<'a, i32>),
}

impl Iterator for SequenceIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        match self {
            SequenceIter::Uint16(it) => it.next().map(|&t| t as u32),
            SequenceIter::Int32(it) => it.next().map(|&t| t as u32),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            SequenceIter::Uint16(it) => it.size_hint(),
            SequenceIter::Int32(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for SequenceIter<'_> {}

/// A little-endian i64 array inside the mapped index (not necessarily 8-byte aligned: the
/// arrays start at offset 34).
#[derive(Debug, Clone, Copy)]
pub struct I64Array<'a> {
    bytes: &'a [u8],
}

impl<'a> I64Array<'a> {
    pub fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<i64> {
        self.bytes
            .get(i * 8..i * 8 + 8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = i64> + 'a {
        self.bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
    }

    pub fn to_vec(&self) -> Vec<i64> {
        self.iter().collect()
    }
}

/// The header of an `.idx` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IndexHeader {
    pub version: u64,
    pub dtype: MegatronDtype,
    /// N.
    pub sequences: u64,
    /// M.
    pub doc_idx_entries: u64,
}

/// A memory-mapped, validated `PREFIX.bin` + `PREFIX.idx`.
pub struct MegatronIndex {
    prefix: PathBuf,
    idx_path: PathBuf,
    bin_path: PathBuf,
    idx: Mapped,
    bin: Mapped,
    header: IndexHeader,
    tokens: u64,
}

impl std::fmt::Debug for MegatronIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MegatronIndex")
            .field("prefix", &self.prefix)
            .field("header", &self.header)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl MegatronIndex {
    /// Maps `PREFIX.idx` and `PREFIX.bin` and checks that they agree: the header, the index
    /// length, every size and pointer against the `.bin` length, and the document index. One
    /// streaming pass over the index.
    pub fn open(prefix: impl AsRef<Path>) -> Result<MegatronIndex> {
        let prefix = prefix.as_ref().to_path_buf();
        let idx_path = idx_path(&prefix);
        let bin_path = bin_path(&prefix);
        if cfg!(target_endian = "big") {
            return Err(invalid(
                &idx_path,
                "memory-mapped reading needs a little-endian host",
            ));
        }
        let idx = Mapped::open(&idx_path).map_err(io_err("open", &idx_path))?;
        let header = parse_header(idx.bytes(), &idx_path)?;
        let bin = Mapped::open(&bin_path).map_err(io_err("open", &bin_path))?;
        let mut index = MegatronIndex {
            prefix,
            idx_path,
            bin_path,
            idx,
            bin,
            header,
            tokens: 0,
        };
        index.tokens = index.validate()?;
        Ok(index)
    }

    fn validate(&self) -> Result<u64> {
        let n = self.header.sequences as usize;
        let itemsize = self.header.dtype.itemsize();
        let bin_len = self.bin.bytes().len() as u64;
        let sizes = &self.idx.bytes()[INDEX_HEADER_LEN as usize..][..n * 4];
        let pointers = self.pointers();
        let mut expected = 0u64;
        for (i, (size, pointer)) in sizes.chunks_exact(4).zip(pointers.iter()).enumerate() {
            let size = i32::from_le_bytes(size.try_into().unwrap());
            if size < 0 {
                return Err(invalid(
                    &self.idx_path,
                    format!("sequence {i} has a negative size ({size})"),
                ));
            }
            if pointer < 0 || pointer as u64 != expected {
                return Err(invalid(
                    &self.idx_path,
                    format!(
                        "sequence {i} points at byte {pointer} of {}, but the sizes before it put \
                         it at byte {expected} (pointers must be the running sum of size x {itemsize})",
                        self.bin_path.display()
                    ),
                ));
            }
            expected += size as u64 * itemsize;
            if expected > bin_len {
                return Err(invalid(
                    &self.bin_path,
                    format!(
                        "has {bin_len} bytes, but sequence {i} of {} ends at byte {expected} \
                         (truncated .bin, or an index of another dataset)",
                        self.idx_path.display()
                    ),
                ));
            }
        }
        if expected != bin_len {
            return Err(invalid(
                &self.bin_path,
                format!(
                    "has {bin_len} bytes, but the {n} sequences of {} cover {expected} bytes \
                     ({} tokens of {}); trailing data or an index of another dataset",
                    self.idx_path.display(),
                    expected / itemsize,
                    self.header.dtype
                ),
            ));
        }
        let doc_idx = self.doc_idx();
        match doc_idx.get(0) {
            None => {
                return Err(invalid(
                    &self.idx_path,
                    "the document index is empty (it always starts with 0)",
                ))
            }
            Some(0) => {}
            Some(first) => {
                return Err(invalid(
                    &self.idx_path,
                    format!("the document index starts with {first}, not 0"),
                ))
            }
        }
        let mut prev = 0i64;
        for (j, d) in doc_idx.iter().enumerate() {
            if d < prev || d as u64 > n as u64 {
                return Err(invalid(
                    &self.idx_path,
                    format!(
                        "document index entry {j} is {d}: entries must rise from 0 to the \
                         number of sequences ({n}), and the previous one is {prev}"
                    ),
                ));
            }
            prev = d;
        }
        if prev as u64 != n as u64 {
            return Err(invalid(
                &self.idx_path,
                format!("the document index ends at {prev}, but there are {n} sequences (it must end with N)"),
            ));
        }
        Ok(expected / itemsize)
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    pub fn idx_path(&self) -> &Path {
        &self.idx_path
    }

    pub fn bin_path(&self) -> &Path {
        &self.bin_path
    }

    pub fn header(&self) -> IndexHeader {
        self.header
    }

    pub fn dtype(&self) -> MegatronDtype {
        self.header.dtype
    }

    /// Number of sequences (N).
    pub fn len(&self) -> usize {
        self.header.sequences as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens in the `.bin`.
    pub fn num_tokens(&self) -> u64 {
        self.tokens
    }

    /// Documents: `doc_idx` entries minus one.
    pub fn num_documents(&self) -> u64 {
        self.header.doc_idx_entries - 1
    }

    pub fn idx_bytes(&self) -> u64 {
        self.idx.bytes().len() as u64
    }

    pub fn bin_bytes(&self) -> u64 {
        self.bin.bytes().len() as u64
    }

    /// Tokens in sequence `i`. Panics when `i >= len()`.
    pub fn size(&self, i: usize) -> u32 {
        assert!(i < self.len(), "sequence {i} of {}", self.len());
        let at = INDEX_HEADER_LEN as usize + i * 4;
        i32::from_le_bytes(self.idx.bytes()[at..at + 4].try_into().unwrap()) as u32
    }

    /// Byte offset of sequence `i` in the `.bin`. Panics when `i >= len()`.
    pub fn pointer(&self, i: usize) -> u64 {
        self.pointers().get(i).expect("sequence index out of range") as u64
    }

    /// The `pointers` array.
    pub fn pointers(&self) -> I64Array<'_> {
        let n = self.len();
        let start = INDEX_HEADER_LEN as usize + n * 4;
        I64Array {
            bytes: &self.idx.bytes()[start..start + n * 8],
        }
    }

    /// The `doc_idx` array.
    pub fn doc_idx(&self) -> I64Array<'_> {
        let n = self.len();
        let start = INDEX_HEADER_LEN as usize + n * 12;
        I64Array {
            bytes: &self.idx.bytes()[start..start + self.header.doc_idx_entries as usize * 8],
        }
    }

    /// The tokens of sequence `i`, borrowed from the map. Panics when `i >= len()`.
    pub fn sequence(&self, i: usize) -> Sequence<'_> {
        let start = self.pointer(i) as usize / self.dtype().itemsize() as usize;
        let len = self.size(i) as usize;
        self.all_tokens().slice(start..start + len)
    }

    /// Every token of the `.bin`, sequence after sequence.
    pub fn all_tokens(&self) -> Sequence<'_> {
        match self.header.dtype {
            MegatronDtype::Uint16 => Sequence::Uint16(self.bin.as_slice(&self.bin_path)),
            MegatronDtype::Int32 => Sequence::Int32(self.bin.as_slice(&self.bin_path)),
        }
    }
}

fn parse_header(bytes: &[u8], path: &Path) -> Result<IndexHeader> {
    let len = bytes.len() as u64;
    if bytes.starts_with(OLD_INDEX_MAGIC) {
        return Err(invalid(
            path,
            "is an index of the older non-mmap IndexedDataset (magic TNTIDX, --dataset-impl \
             lazy/cached); arcade reads only MMapIndexedDataset (magic MMIDIDX)",
        ));
    }
    if len < INDEX_HEADER_LEN {
        if !INDEX_MAGIC.starts_with(&bytes[..bytes.len().min(9)]) {
            return Err(not_megatron(bytes, path));
        }
        return Err(invalid(
            path,
            format!("truncated: {len} bytes, shorter than the {INDEX_HEADER_LEN}-byte header"),
        ));
    }
    if &bytes[..9] != INDEX_MAGIC {
        return Err(not_megatron(bytes, path));
    }
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let version = u64_at(9);
    if version != INDEX_VERSION {
        return Err(invalid(
            path,
            format!("index version {version}; only version 1 exists"),
        ));
    }
    let code = bytes[17];
    let dtype = MegatronDtype::from_code(code).ok_or_else(|| {
        invalid(
            path,
            format!(
                "dtype code {code} ({}); arcade reads token files of int32 (4) or uint16 (8)",
                dtype_code_name(code)
            ),
        )
    })?;
    let sequences = u64_at(18);
    let doc_idx_entries = u64_at(26);
    let expected = sequences
        .checked_mul(12)
        .and_then(|b| {
            doc_idx_entries
                .checked_mul(8)
                .and_then(|d| b.checked_add(d))
        })
        .and_then(|b| b.checked_add(INDEX_HEADER_LEN));
    match expected {
        Some(expected) if expected == len => {}
        Some(expected) if expected > len => {
            return Err(invalid(
                path,
                format!(
                    "truncated: the header says {sequences} sequences and {doc_idx_entries} \
                     document-index entries, which take {expected} bytes, but the file has {len}"
                ),
            ))
        }
        Some(expected) => {
            return Err(invalid(
                path,
                format!(
                    "has {len} bytes, more than the {expected} its header accounts for \
                     ({sequences} sequences, {doc_idx_entries} document-index entries): trailing \
                     data, or a multimodal index with sequence modes, which arcade does not read"
                ),
            ))
        }
        None => {
            return Err(invalid(
                path,
                format!("corrupt header: {sequences} sequences and {doc_idx_entries} document-index entries"),
            ))
        }
    }
    if usize::try_from(len).is_err() {
        return Err(invalid(path, "too large for this platform"));
    }
    Ok(IndexHeader {
        version,
        dtype,
        sequences,
        doc_idx_entries,
    })
}

fn not_megatron(bytes: &[u8], path: &Path) -> MegatronError {
    let head: String = bytes[..bytes.len().min(9)].escape_ascii().to_string();
    invalid(
        path,
        format!("not a Megatron MMapIndexedDataset index: it starts with b\"{head}\", not b\"MMIDIDX\\x00\\x00\""),
    )
}

/// Concatenates datasets into `output` (`OUTPUT.bin` + `OUTPUT.idx`), as megatron-core's
/// `IndexedDatasetBuilder.add_index` does: sequences in input order, pointers recomputed, each
/// input's `doc_idx` shifted by the sequences before it, its leading 0 dropped except for the
/// first input. All inputs must have the same dtype. Streams; writes temporary files and
/// renames them, so an existing output is replaced only once the new one is complete.
pub fn merge<P: AsRef<Path>>(
    inputs: &[P],
    output: impl AsRef<Path>,
) -> Result<(ShardInfo, FileInfo)> {
    let output = output.as_ref();
    let paths = Paths::for_prefix(output);
    let Some(first) = inputs.first() else {
        return Err(invalid(output, "nothing to merge: no input datasets"));
    };
    let indexes = inputs
        .iter()
        .map(|p| MegatronIndex::open(p.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let dtype = indexes[0].dtype();
    for index in &indexes[1..] {
        if index.dtype() != dtype {
            return Err(invalid(
                index.idx_path(),
                format!(
                    "holds {} tokens but {} holds {}; datasets of different dtypes cannot be merged",
                    index.dtype(),
                    idx_path(first.as_ref()).display(),
                    dtype
                ),
            ));
        }
    }
    let sequences: u64 = indexes.iter().map(|i| i.len() as u64).sum();
    let doc_idx_entries: u64 = 1 + indexes.iter().map(|i| i.num_documents()).sum::<u64>();
    let tokens: u64 = indexes.iter().map(|i| i.num_tokens()).sum();

    // .bin: the inputs' bytes back to back.
    let mut bin = DurableFile::create(&paths.bin)?;
    for index in &indexes {
        for chunk in index.bin.bytes().chunks(8 << 20) {
            bin.write_all(chunk)
                .map_err(io_err("write", &paths.bin_tmp))?;
        }
    }
    let bin = bin.close()?;

    // .idx
    let mut idx = DurableFile::create(&paths.idx)?;
    let werr = io_err("write", &paths.idx_tmp);
    write_header(&mut idx, dtype, sequences, doc_idx_entries).map_err(&werr)?;
    for index in &indexes {
        let n = index.len();
        idx.write_all(&index.idx.bytes()[INDEX_HEADER_LEN as usize..][..n * 4])
            .map_err(&werr)?;
    }
    let itemsize = dtype.itemsize();
    let mut pointer = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK_ITEMS * 8);
    for index in &indexes {
        let sizes = &index.idx.bytes()[INDEX_HEADER_LEN as usize..][..index.len() * 4];
        for part in sizes.chunks(CHUNK_ITEMS * 4) {
            chunk.clear();
            for s in part.chunks_exact(4) {
                chunk.extend_from_slice(&(pointer as i64).to_le_bytes());
                pointer += i32::from_le_bytes(s.try_into().unwrap()) as u64 * itemsize;
            }
            idx.write_all(&chunk).map_err(&werr)?;
        }
    }
    let mut offset = 0i64;
    for (k, index) in indexes.iter().enumerate() {
        let doc_idx = index.doc_idx();
        let skip = usize::from(k > 0);
        chunk.clear();
        for d in doc_idx.iter().skip(skip) {
            chunk.extend_from_slice(&(d + offset).to_le_bytes());
            if chunk.len() >= CHUNK_ITEMS * 8 {
                idx.write_all(&chunk).map_err(&werr)?;
                chunk.clear();
            }
        }
        idx.write_all(&chunk).map_err(&werr)?;
        offset += index.len() as i64;
    }
    let idx = idx.close()?;
    drop(indexes);

    let bin = bin.rename()?;
    let idx = idx.rename()?;
    durable::sync_dir(&paths.dir);
    Ok(dataset_info(bin, idx, sequences, tokens))
}
