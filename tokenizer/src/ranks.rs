//! The tiktoken ranks format: one `base64(token bytes) rank` pair per line, where the rank is also
//! the token id and the merge priority (a lower rank merges first).

use base64::Engine;

use crate::error::LoadError;

/// The cl100k_base ranks, the ordinary vocabulary of both Arcade100k and cl100k_base.
/// Copied byte for byte from the `tiktoken-rs` crate's `assets/cl100k_base.tiktoken`;
/// sha256 223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7 (checked by a test).
/// The library reads the tables `build.rs` made of it (`embedded.rs`); big-endian machines and
/// the tests parse it.
#[cfg(any(test, target_endian = "big"))]
pub(crate) static CL100K_BASE: &[u8] = include_bytes!("../assets/cl100k_base.tiktoken");

/// The canonical split of every cl100k_base token: one byte per id, the offset at which BPE of
/// the token's bytes makes its last merge (0 for single bytes). Derived data, not a reference: it
/// is computed from the ranks above by `backtrack::canonical_splits`, a unit test recomputes it,
/// and the differential tests against tiktoken-rs (whose ids would differ if a split were wrong)
/// check what it is used for. To regenerate, from the workspace root:
/// `ARCADE_WRITE_SPLITS=$PWD/tokenizer/assets/cl100k_base.splits cargo test -p arcade-tokenizer --lib write_canonical_splits -- --ignored`
pub(crate) static CL100K_BASE_SPLITS: &[u8] = include_bytes!("../assets/cl100k_base.splits");

/// Parses a tiktoken ranks file into `(bytes, rank)` pairs, in file order.
pub(crate) fn parse(data: &[u8]) -> Result<Vec<(Vec<u8>, u32)>, LoadError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(data.len() / 16);
    for (index, line) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let err = |message: String| LoadError::Ranks {
            line: line_no,
            message,
        };
        let mut fields = line.split(|&b| b == b' ');
        let (Some(token), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(err(
                "expected two fields: base64 token bytes, a space, the rank".into(),
            ));
        };
        let bytes = engine
            .decode(token)
            .map_err(|e| err(format!("token is not valid base64: {e}")))?;
        if bytes.is_empty() {
            return Err(err("token is empty".into()));
        }
        let rank = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.parse::<u32>().ok())
            .ok_or_else(|| {
                err(format!(
                    "rank {:?} is not a number",
                    String::from_utf8_lossy(rank)
                ))
            })?;
        out.push((bytes, rank));
    }
    if out.is_empty() {
        return Err(LoadError::Ranks {
            line: 0,
            message: "the file holds no tokens".into(),
        });
    }
    Ok(out)
}
