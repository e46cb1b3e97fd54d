//! The tables of the embedded cl100k ranks, built by `build.rs` from `assets/cl100k_base.tiktoken`
//! and `assets/cl100k_base.splits` with the library's own builders, as little-endian bytes: read
//! in place (`Vocab::embedded`, `Backtrack::embedded`), so the built-in encodings start with
//! nothing to compute and the operating system pages in only what a text touches. Big-endian
//! machines build them at run time instead.

/// `include_bytes!` with the alignment of the records it is read as.
#[repr(C)]
pub(crate) struct Aligned<B: ?Sized> {
    _align: [u64; 0],
    pub(crate) bytes: B,
}

macro_rules! table {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: &Aligned<[u8]> = &Aligned {
            _align: [],
            bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/", $file)),
        };
    };
}

// The backtracking encoder (`backtrack_tables.rs`).
table!(META, "cl100k_meta.bin");
table!(PAIR_FILTER, "cl100k_pair_filter.bin");
table!(ROOT2, "cl100k_root2.bin");
table!(NODES, "cl100k_nodes.bin");
table!(LABELS, "cl100k_labels.bin");

// The vocabulary (`bpe::Vocab`): token bytes in id order, `u32` offsets into them (one more than
// ids), the whole-token table of tokens of up to 7 bytes (`flat_map::Slot<u32>`), and the id of
// every two-byte token (`u32::MAX`: none).
table!(BYTES, "cl100k_bytes.bin");
table!(OFFSETS, "cl100k_offsets.bin");
table!(TINY, "cl100k_tiny.bin");
table!(BYTE_PAIRS, "cl100k_byte_pairs.bin");
