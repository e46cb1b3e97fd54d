//! Opening an input as a buffered stream of decompressed bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::error::ReadError;
use super::format::Compression;

/// Big enough that per-call overhead vanishes next to JSON parsing, small enough to keep many
/// readers open at once (one per worker thread).
pub(crate) const BUFFER_SIZE: usize = 256 * 1024;

pub(crate) type ByteStream = Box<dyn BufRead + Send>;

/// Opens `path` (or stdin for `-`), decompressing as `named` says; when the name says nothing,
/// the first bytes are sniffed so `cat x.gz | arcade -` and misnamed files still work.
pub(crate) fn open_stream(
    path: &Path,
    display: &str,
    named: Option<Compression>,
) -> Result<(ByteStream, Compression), ReadError> {
    if path == Path::new("-") {
        return Ok(with_compression(io::stdin(), named));
    }
    let file = open_file(path, display)?;
    Ok(with_compression(file, named))
}

/// Opens a regular file, turning the OS error into a message that names the path.
pub(crate) fn open_file(path: &Path, display: &str) -> Result<File, ReadError> {
    let path_string = || display.to_string();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(ReadError::IsDirectory {
                path: path_string(),
            })
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(ReadError::NotFound {
                path: path_string(),
            })
        }
        _ => {}
    }
    File::open(path).map_err(|source| ReadError::Open {
        path: path_string(),
        source,
    })
}

fn with_compression<R: Read + Send + 'static>(
    raw: R,
    named: Option<Compression>,
) -> (ByteStream, Compression) {
    let mut raw = BufReader::with_capacity(BUFFER_SIZE, raw);
    let compression = match named {
        Some(compression) => compression,
        // A read error here is not lost: the same error comes back on the first real read.
        None => raw
            .fill_buf()
            .map(Compression::sniff)
            .unwrap_or(Compression::None),
    };
    let stream: ByteStream = match compression {
        Compression::None => Box::new(raw),
        // MultiGzDecoder: concatenated gzip members (`cat a.gz b.gz`, bgzip) are one stream.
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUFFER_SIZE,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        // zstd's decoder continues across concatenated frames by default.
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(raw) {
            Ok(decoder) => Box::new(BufReader::with_capacity(BUFFER_SIZE, decoder)),
            // Only fails when zstd cannot allocate its context; surface it on the first read.
            Err(err) => Box::new(FailingReader(Some(err))),
        },
    };
    (stream, compression)
}

/// A stream whose first read fails with a stored error, so setup failures are reported through
/// the same per-record path as any other read error.
struct FailingReader(Option<io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(err) => Err(err),
            None => Ok(0),
        }
    }
}

impl BufRead for FailingReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.0.take() {
            Some(err) => Err(err),
            None => Ok(&[]),
        }
    }

    fn consume(&mut self, _: usize) {}
}
