//! Pre-tokenization: cutting text into the pieces that BPE encodes one at a time.
//!
//! The built-in encodings share one split pattern family,
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! with D = 1 for Arcade100k (one digit per piece) and D = 3 for cl100k_base. The reference runs it
//! through fancy-regex, a backtracking engine; here the same leftmost-first semantics are written
//! out by hand as [`Scanner`]. Why: the regex costs most of tiktoken's time, while the pattern only
//! ever looks one or two characters ahead, so a scanner that classifies each character once (ASCII
//! by a 128-byte table, the rest by the derived tables in `unicode.rs`) does the same work in a
//! single forward pass with no backtracking state. Each alternative below is annotated with the
//! regex branch it replaces; `tests/differential.rs` and the property tests hold the two equal.
//!
//! Any other pattern (o200k_base, user-supplied) goes through [`Splitter::Regex`] (fancy-regex).

use crate::unicode::{self, class_of};

/// Scanner classes. Letter, number and other follow `unicode.rs`; white space is split into CR/LF
/// (which the pattern names literally) and the rest.
const OTHER: u8 = unicode::OTHER;
const LETTER: u8 = unicode::LETTER;
const NUMBER: u8 = unicode::NUMBER;
const SPACE: u8 = unicode::SPACE;
const NEWLINE: u8 = 4;

/// Classes of the ASCII characters, so that the common case costs one load.
static ASCII_CLASS: [u8; 128] = {
    let mut t = [OTHER; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphabetic() {
            LETTER
        } else if b.is_ascii_digit() {
            NUMBER
        } else if b == b'\r' || b == b'\n' {
            NEWLINE
        } else if matches!(b, b' ' | b'\t' | 0x0b | 0x0c) {
            SPACE
        } else {
            OTHER
        };
        c += 1;
    }
    t
};

/// Class and UTF-8 length of the character starting at `bytes[i]`, which must be a char boundary
/// of valid UTF-8 (the input is always a `&str`).
#[inline(always)]
fn class_at(bytes: &[u8], i: usize) -> (u8, usize) {
    let b0 = bytes[i];
    if b0 < 0x80 {
        return (ASCII_CLASS[b0 as usize], 1);
    }
    let (cp, len) = if b0 < 0xE0 {
        (((b0 as u32 & 0x1F) << 6) | (bytes[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        let cp = ((b0 as u32 & 0x0F) << 12)
            | ((bytes[i + 1] as u32 & 0x3F) << 6)
            | (bytes[i + 2] as u32 & 0x3F);
        (cp, 3)
    } else {
        let cp = ((b0 as u32 & 0x07) << 18)
            | ((bytes[i + 1] as u32 & 0x3F) << 12)
            | ((bytes[i + 2] as u32 & 0x3F) << 6)
            | (bytes[i + 3] as u32 & 0x3F);
        (cp, 4)
    };
    // Non-ASCII white space is never CR or LF, so the derived SPACE class is already right here.
    (class_of(char::from_u32(cp).unwrap_or_default()), len)
}

/// The hand-written scanner for the cl100k pattern family (see the module comment).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanner {
    /// D in `\p{N}{1,D}`: 1 for Arcade100k, 3 for cl100k_base.
    pub(crate) max_digits: usize,
}

impl Scanner {
    /// Byte offset just past the piece that starts at `i` (< `bytes.len()`).
    #[inline]
    pub(crate) fn piece_end(&self, bytes: &[u8], i: usize) -> usize {
        let (k0, n0) = class_at(bytes, i);
        let j = i + n0;
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if bytes[i] == b'\'' {
            if let Some(end) = contraction_end(bytes, j) {
                return end;
            }
        }
        match k0 {
            // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional class matching nothing.
            LETTER => letters_end(bytes, j),
            // \p{N}{1,D}
            NUMBER => {
                let mut end = j;
                let mut count = 1;
                while count < self.max_digits && end < bytes.len() {
                    let (k, n) = class_at(bytes, end);
                    if k != NUMBER {
                        break;
                    }
                    end += n;
                    count += 1;
                }
                end
            }
            OTHER | SPACE => {
                if j < bytes.len() {
                    let (k1, n1) = class_at(bytes, j);
                    // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional class matching this character.
                    if k1 == LETTER {
                        return letters_end(bytes, j + n1);
                    }
                    // ` ?[^\s\p{L}\p{N}]+[\r\n]*` with the optional space present.
                    if bytes[i] == b' ' && k1 == OTHER {
                        return punctuation_end(bytes, j + n1);
                    }
                }
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*` without the space.
                if k0 == OTHER {
                    return punctuation_end(bytes, j);
                }
                whitespace_end(bytes, i)
            }
            _ => whitespace_end(bytes, i),
        }
    }
}

/// After an apostrophe at `j - 1`: the end of a case-insensitive contraction starting there, if any.
/// The letters are those that simple case folding maps to s, t, m, d, re, ve, ll; `unicode.rs`
/// tests this set against the regex engine (it adds U+017F LONG S, which folds to `s`).
#[inline]
fn contraction_end(bytes: &[u8], j: usize) -> Option<usize> {
    let c1 = *bytes.get(j)?;
    match c1 | 0x20 {
        b's' | b't' | b'm' | b'd' if c1.is_ascii_alphabetic() => Some(j + 1),
        b'r' | b'v' if c1.is_ascii_alphabetic() => {
            matches!(bytes.get(j + 1), Some(b'e' | b'E')).then_some(j + 2)
        }
        b'l' if c1.is_ascii_alphabetic() => {
            matches!(bytes.get(j + 1), Some(b'l' | b'L')).then_some(j + 2)
        }
        // U+017F LATIN SMALL LETTER LONG S is C5 BF in UTF-8 (C5 | 0x20 == E5).
        0xE5 if c1 == 0xC5 && bytes.get(j + 1) == Some(&0xBF) => Some(j + 2),
        _ => None,
    }
}

/// `\p{L}+` continued from `i`.
#[inline]
fn letters_end(bytes: &[u8], mut i: usize) -> usize {
    // ASCII words are most of the letters in most text: take them eight bytes at a time. The scan
    // stops at the first byte that is not an ASCII letter; if that byte is ASCII the run is over,
    // otherwise the per-character loop below decides (it may be a non-ASCII letter).
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let letters = ascii_letter_count(word);
        i += letters;
        if letters < 8 {
            if bytes[i] < 0x80 {
                return i;
            }
            break;
        }
    }
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if !b.is_ascii_alphabetic() {
                break;
            }
            i += 1;
        } else {
            let (k, n) = class_at(bytes, i);
            if k != LETTER {
                break;
            }
            i += n;
        }
    }
    i
}

/// How many of the eight bytes of `word` (first byte lowest) are ASCII letters before the first
/// that is not. Per byte, without branches: set bit 7 where the byte, lowercased, lies in
/// 0x61..=0x7A (both bounds by subtraction with bit 7 as the borrow guard) and was ASCII to begin
/// with; the first byte without that bit ends the run.
#[inline(always)]
fn ascii_letter_count(word: u64) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = (word | 0x2020_2020_2020_2020) & !HIGH;
    let at_least_a = (low7 | HIGH) - 0x61 * ONES;
    let at_most_z = ((0x7A * ONES) | HIGH) - low7;
    let letter = at_least_a & at_most_z & !word & HIGH;
    ((!letter & HIGH).trailing_zeros() / 8) as usize
}

/// `[^\s\p{L}\p{N}]*[\r\n]*` continued from `i` (the first punctuation character is consumed).
#[inline]
fn punctuation_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        let (k, n) = class_at(bytes, i);
        if k != OTHER {
            break;
        }
        i += n;
    }
    while i < bytes.len() && (bytes[i] == b'\r' || bytes[i] == b'\n') {
        i += 1;
    }
    i
}

/// The three white-space branches, tried in order over the white-space run starting at `i`:
/// `\s*[\r\n]+` ends just after the run's last CR or LF; else `\s+(?!\S)` takes the whole run at the
/// end of the text, or all but its last character when that leaves at least one; else `\s+` takes
/// the single character.
#[inline]
fn whitespace_end(bytes: &[u8], i: usize) -> usize {
    let mut end = i;
    let mut last_start = i;
    let mut after_newline = None;
    while end < bytes.len() {
        let (k, n) = class_at(bytes, end);
        if k == NEWLINE {
            after_newline = Some(end + n);
        } else if k != SPACE {
            break;
        }
        last_start = end;
        end += n;
    }
    if let Some(e) = after_newline {
        e
    } else if end == bytes.len() || last_start == i {
        end
    } else {
        last_start
    }
}

/// How text is cut into pieces.
#[derive(Debug)]
pub(crate) enum Splitter {
    Scanner(Scanner),
    /// Any other pattern. The backtrack limit is lifted, so matching cannot fail at run time.
    Regex(fancy_regex::Regex),
}

impl Splitter {
    pub(crate) fn from_pattern(pattern: &str) -> Result<Splitter, crate::LoadError> {
        if let Some(max_digits) = crate::known_pattern_digits(pattern) {
            return Ok(Splitter::Scanner(Scanner { max_digits }));
        }
        fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(usize::MAX)
            .build()
            .map(Splitter::Regex)
            .map_err(|e| crate::LoadError::Pattern(e.to_string()))
    }

    /// Calls `f` with every piece of `text`, in order. The pieces cover `text` exactly.
    #[inline]
    pub(crate) fn for_each_piece(&self, text: &str, mut f: impl FnMut(&[u8])) {
        let bytes = text.as_bytes();
        match self {
            Splitter::Scanner(s) => {
                let mut i = 0;
                while i < bytes.len() {
                    let end = s.piece_end(bytes, i);
                    f(&bytes[i..end]);
                    i = end;
                }
            }
            Splitter::Regex(re) => {
                // Text between matches is not dropped: the reference drops it silently, but every
                // practical pattern matches everything, and losing bytes would break decode(encode(x)).
                let mut last = 0;
                for m in re.find_iter(text) {
                    let m =
                        m.expect("fancy-regex fails only at its backtrack limit, which is lifted");
                    if m.start() > last {
                        f(&bytes[last..m.start()]);
                    }
                    if m.end() > m.start() {
                        f(m.as_str().as_bytes());
                    }
                    last = m.end();
                }
                if last < bytes.len() {
                    f(&bytes[last..]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_letter_count;

    fn naive(word: u64) -> usize {
        word.to_le_bytes()
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count()
    }

    #[test]
    fn ascii_letter_count_is_the_leading_run_of_ascii_letters() {
        // Every byte value in every position, against a background of letters, so that a wrong
        // borrow between neighbouring bytes would show.
        for background in [*b"abcdefgh", *b"ZYXWVUTS", *b"azAZazAZ"] {
            for pos in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = background;
                    bytes[pos] = b;
                    let word = u64::from_le_bytes(bytes);
                    assert_eq!(ascii_letter_count(word), naive(word), "{bytes:?}");
                }
            }
        }
        // And pseudo-random words biased toward the edges of the ranges.
        let edges = [
            0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0xC1, 0xDA, 0xE1, 0xFA, 0x00, 0x80,
            0xFF,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes: [u8; 8] = std::array::from_fn(|k| {
                let r = (state >> (k * 8)) as u8;
                if r & 1 == 0 {
                    edges[(r >> 1) as usize % edges.len()]
                } else {
                    b'a' + (r >> 1) % 26
                }
            });
            let word = u64::from_le_bytes(bytes);
            assert_eq!(ascii_letter_count(word), naive(word), "{bytes:?}");
        }
    }
}
