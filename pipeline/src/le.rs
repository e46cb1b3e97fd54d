//! Little-endian `u32` words to and from bytes: the layout of every token file arcade writes
//! (shards, bucket files). On a little-endian machine the bytes of a `&[u32]` already are that
//! layout, so a whole row is one copy instead of a loop of four-byte appends; profiles of
//! `arcade pack` had those loops at a fifth of the packing thread's time.

/// Appends `words` to `buf` as little-endian bytes.
#[inline]
pub(crate) fn extend_bytes(buf: &mut Vec<u8>, words: &[u32]) {
    if cfg!(target_endian = "little") {
        buf.extend_from_slice(bytemuck::cast_slice(words));
    } else {
        buf.reserve(words.len() * 4);
        for w in words {
            buf.extend_from_slice(&w.to_le_bytes());
        }
    }
}

/// Writes `words` as little-endian bytes: on a little-endian machine straight from the slice,
/// without staging them in a buffer first.
pub(crate) fn write_words(out: &mut impl std::io::Write, words: &[u32]) -> std::io::Result<()> {
    if cfg!(target_endian = "little") {
        out.write_all(bytemuck::cast_slice(words))
    } else {
        let mut buf = Vec::with_capacity(words.len() * 4);
        extend_bytes(&mut buf, words);
        out.write_all(&buf)
    }
}

/// The bytes of `words` to fill with little-endian data, then [`fix_read_words`].
#[inline]
pub(crate) fn bytes_of_mut(words: &mut [u32]) -> &mut [u8] {
    bytemuck::cast_slice_mut(words)
}

/// Turns words filled through [`bytes_of_mut`] into native order (nothing to do on little-endian).
#[inline]
pub(crate) fn fix_read_words(words: &mut [u32]) {
    if cfg!(target_endian = "big") {
        for w in words {
            *w = u32::from_le(*w);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_round_trip_through_little_endian_bytes() {
        let words = [0u32, 1, 0x0102_0304, u32::MAX, 100_257];
        let mut buf = vec![9u8];
        super::extend_bytes(&mut buf, &words);
        let expected: Vec<u8> = std::iter::once(9u8)
            .chain(words.iter().flat_map(|w| w.to_le_bytes()))
            .collect();
        assert_eq!(buf, expected);
        let mut written = vec![9u8];
        super::write_words(&mut written, &words).unwrap();
        assert_eq!(written, expected);
        let mut back = [0u32; 5];
        super::bytes_of_mut(&mut back).copy_from_slice(&buf[1..]);
        super::fix_read_words(&mut back);
        assert_eq!(back, words);
    }
}
