//! Byte-pair encoding of one piece, and the per-thread cache of pieces already encoded.
//!
//! The algorithm is tiktoken's: start from single bytes and repeatedly merge the adjacent pair whose
//! concatenation has the lowest rank, leftmost first on ties, until no adjacent pair is a token.
//! Every intermediate part is a token, so its rank is also its id. Performance decisions, and why:
//!
//! * **Whole-piece lookup first.** Most pieces of real text ("␣the", "ing", "\n\n") are tokens
//!   themselves; tiktoken returns those directly and so do we (`Tokenizer::encode_ordinary_into`).
//!   One hash of a few bytes replaces the whole merge loop. Doing the same shortcut as the reference
//!   also keeps us exact by construction on those pieces.
//! * **Piece cache.** Pieces that are not tokens (long or rare words, code identifiers, text in
//!   scripts with few merges) repeat across a corpus too. Their ids are kept per thread, keyed by
//!   the piece bytes, in one id arena (no allocation per entry). The cache is bounded: when full it
//!   is cleared, which keeps memory flat on any corpus and costs little because hot pieces return
//!   within a few documents.
//! * **Merge by id pair, not by bytes.** tiktoken hashes the byte slice of every candidate pair on
//!   every step. Since parts are tokens, a pair is fully described by its two ids; `pairs` maps
//!   `(left, right)` to the id of the concatenation (all three packed in one `u64`, `PairMap`),
//!   built once from the vocabulary by splitting every token at every point. Hashing the two ids
//!   is a multiply, and there is no slice to compare. The first round of every piece (byte next
//!   to byte) skips even that: a dense 256 KiB table holds every two-byte token. For the embedded
//!   ranks the map holds only each token's canonical split, shipped precomputed: a quarter of the
//!   memory, 10% less merge time on text never seen, half the construction time (why that is
//!   exact: `Vocab::new`).
//! * **Two merge loops.** Short pieces (the overwhelming majority) use a flat vector and a linear
//!   scan for the minimum: for a handful of parts that beats any heap on cache locality. From 48
//!   bytes on (measured: CJK and Hangul clauses, which have no spaces, are often that long and are
//!   never whole tokens) a binary heap over a linked list wins, and it keeps the worst case (a
//!   megabyte of letters with no split point) at O(n log n) rather than tiktoken-small's O(n²).
//! * **Three, in fact.** The linear, left-to-right backtracking encoder of `backtrack.rs`
//!   (exactness argument there) beats the merge loops on pieces in scripts past the Latin
//!   blocks at every length, and on Latin from 32 bytes (`EMBEDDED_BACKTRACK_PIECE` has the
//!   numbers): on text never seen, Chinese, Japanese and Russian encode 1.3-1.6x faster, Arabic
//!   1.3x, Korean 1.1x, the mixed corpus 1.1x. Its tables (7 MB for cl100k) are built at compile
//!   time for the embedded ranks, so the built-in encodings use it so. A ranks file given at run
//!   time would pay 12 ms (plus 20-25 to find the canonical splits) on its first such piece,
//!   which a small input never repays; so there backtracking starts at the same thresholds only
//!   once `ADOPT_BACKTRACK_BYTES` of such pieces have been merged, and before that takes pieces
//!   from `BACKTRACK_PIECE` (4 KB) on, where the heap's O(n log n) and its cache misses (its
//!   state is touched in rank order, i.e. randomly, and outgrows L2 around 50 KB) made the cost
//!   per byte grow 2.4-4.8x from 10 KB to 1 MB. The heap also remains for a vocabulary the
//!   backtracking encoder cannot serve.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::backtrack::Backtrack;
use crate::error::LoadError;
use crate::flat_map::{pack_tiny, FlatMap, Slot};

// The embedded whole-token table is these slots as little-endian bytes (`build.rs`).
// SAFETY: `repr(C)` of a `u64` and a `u32` (then 4 bytes of padding, which `AnyBitPattern`
// allows): every bit pattern is a valid slot.
unsafe impl bytemuck::Zeroable for Slot<u32> {}
unsafe impl bytemuck::AnyBitPattern for Slot<u32> {}

const NONE: u32 = u32::MAX;
/// Pieces at least this long use the heap merge loop.
const LARGE_PIECE: usize = 48;
/// The short loop removes a merged part by moving this many slots down, a copy of constant size
/// the compiler writes out in a few vector moves, instead of a call to `memmove` for the tail
/// (those calls were 2% of `arcade pack`'s samples); only longer tails take the call.
const SHIFT_WINDOW: usize = 16;
/// Pieces at least this long use the backtracking encoder (`backtrack.rs`) when its tables must be
/// built at run time ...
const BACKTRACK_PIECE: usize = 4096;
/// ... and from these lengths on when they come built with the embedded ranks: 32 bytes in
/// general, 2 when the piece ends in a character past the Latin blocks. Measured with
/// `piece_profile` on the mixed corpus: on such pieces backtracking is faster at every length
/// (17-20 ns/byte against 23-28 below 32 bytes); on ASCII and accented Latin it loses below 16
/// bytes (40-52 against 25-31), is level from 16 to 32, and wins beyond (12-14 against 22-55).
/// Below 32 bytes a Latin-script text sends only a few hundred pieces of a megabyte to it, too
/// few to pay for bringing its tables into the CPU caches: French and Italian files of 0.5 MB
/// came out 15% slower when those went to backtracking too.
const EMBEDDED_BACKTRACK_PIECE: [usize; 2] = [32, 2];
/// A vocabulary whose tables must be built at run time adopts those thresholds too once its merge
/// loops have taken this many bytes of pieces that they would send to backtracking: building the
/// tables costs about 35 ms for cl100k's 100k tokens (12 for the trie, 20-25 to find the
/// canonical splits; o200k about twice that), and backtracking saves about 10 ns per byte of
/// such pieces (`EMBEDDED_BACKTRACK_PIECE`), so 8 MiB repay it, and a small input never pays it.
/// (Text a tokenizer has seen does not count: its pieces come from the cache.)
pub(crate) const ADOPT_BACKTRACK_BYTES: u64 = if cfg!(test) { 64 << 10 } else { 8 << 20 };
/// A cached piece of at most this many ids is copied out of the arena as a copy of constant size
/// (one vector move) instead of a call to `memcpy`: most are one to four ids, and those calls were
/// 2% of `arcade pack`'s samples.
const SMALL_COPY: usize = 4;
/// Pieces longer than this are not cached: they are rare, and would crowd the arena.
const MAX_CACHED_PIECE: usize = 256;
/// Bounds of the per-thread cache; beyond them it is cleared (about 16 MiB per thread at most).
const MAX_CACHE_ENTRIES: usize = 1 << 18;
const MAX_CACHE_IDS: usize = 1 << 21;
/// ... and on the bytes of its pieces of 16 bytes or more.
const MAX_CACHE_LONG_BYTES: usize = 1 << 23;

/// A map keyed by a piece's bytes, in three tiers by length, because its lookups are most of the
/// time of encoding text already seen (profiled: the loads of hash-table entries, i.e. cache
/// misses, not the hashing). Pieces of up to 7 bytes (most pieces of text, and 70% of cl100k's
/// tokens) are packed into a `u64` key in a flat open-addressing table of 16-byte slots: one probe
/// touches one cache line, with no separate control bytes to load first, and four slots share a
/// line, so the hot pieces of a text crowd fewer lines than in hashbrown's 24-byte buckets of the
/// longer keys. Pieces of 8 to 15 bytes use an inline 16-byte key in a hashbrown map (no pointer
/// to chase, no `memcmp`); longer ones are keyed in a byte arena (`LongMap`).
#[derive(Debug)]
pub(crate) struct PieceMap<V: Clone + 'static> {
    tiny: FlatMap<V>,
    short: FxHashMap<ShortKey, V>,
    long: LongMap<V>,
}

impl<V: Copy + Default + 'static> PieceMap<V> {
    fn new() -> Self {
        PieceMap {
            tiny: FlatMap::new(),
            short: FxHashMap::default(),
            long: LongMap::default(),
        }
    }

    /// Room for `tiny` pieces of up to 7 bytes and `short` ones of 8 to 15 without growing.
    fn with_capacity((tiny, short): (usize, usize)) -> Self {
        PieceMap {
            tiny: FlatMap::with_capacity(tiny),
            short: FxHashMap::with_capacity_and_hasher(short, Default::default()),
            long: LongMap::default(),
        }
    }

    /// How many pieces of these lengths go to the tiny tier and to the short one. (`build.rs`,
    /// which cannot see this file, sizes the embedded whole-token table by the rule that fills
    /// it: the tokens `pack_tiny` takes.)
    fn tier_counts(lengths: impl Iterator<Item = usize>) -> (usize, usize) {
        lengths.fold((0, 0), |(tiny, short), n| match n {
            1..=7 => (tiny + 1, short),
            8..=15 => (tiny, short + 1),
            _ => (tiny, short),
        })
    }

    #[inline(always)]
    fn get(&self, piece: &[u8]) -> Option<V> {
        if let Some(key) = pack_tiny(piece) {
            return self.tiny.get(key);
        }
        match pack_short(piece) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(piece),
        }
    }

    /// Inserts unless present; returns whether it was new.
    fn insert(&mut self, piece: &[u8], value: V) -> bool {
        if let Some(key) = pack_tiny(piece) {
            return self.tiny.insert(key, value);
        }
        match pack_short(piece) {
            Some(key) => match self.short.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(value);
                    true
                }
            },
            None => self.long.insert(piece, value),
        }
    }

    fn len(&self) -> usize {
        self.tiny.len + self.short.len() + self.long.len()
    }

    /// Bytes of the pieces of 16 bytes or more.
    fn long_bytes(&self) -> usize {
        self.long.bytes.len()
    }

    fn clear(&mut self) {
        self.tiny.clear();
        self.short.clear();
        self.long.clear();
    }
}

impl<V: Copy + Default + 'static> Default for PieceMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Pieces of 16 bytes or more: their bytes one after the other in one arena, and a hashbrown
/// table of `(offset, length, value)`. One allocation for all keys instead of a box each (the
/// piece cache inserts tens of thousands of long pieces in a pass over text never seen, most of
/// them seen once: their allocation and, when the cache is cleared, freeing were 2% of
/// `arcade pack`'s samples).
#[derive(Debug)]
struct LongMap<V> {
    table: hashbrown::HashTable<(u32, u32, V)>,
    bytes: Vec<u8>,
}

impl<V> Default for LongMap<V> {
    fn default() -> Self {
        LongMap {
            table: hashbrown::HashTable::new(),
            bytes: Vec::new(),
        }
    }
}

impl<V: Copy> LongMap<V> {
    #[inline(always)]
    fn hash(piece: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        rustc_hash::FxBuildHasher.hash_one(piece)
    }

    #[inline(always)]
    fn key<'a>(bytes: &'a [u8], &(start, len, _): &(u32, u32, V)) -> &'a [u8] {
        &bytes[start as usize..(start + len) as usize]
    }

    #[inline(always)]
    fn get(&self, piece: &[u8]) -> Option<V> {
        self.table
            .find(Self::hash(piece), |e| Self::key(&self.bytes, e) == piece)
            .map(|e| e.2)
    }

    /// Inserts unless present; returns whether it was new.
    fn insert(&mut self, piece: &[u8], value: V) -> bool {
        let hash = Self::hash(piece);
        let bytes = &mut self.bytes;
        if self
            .table
            .find(hash, |e| Self::key(bytes, e) == piece)
            .is_some()
        {
            return false;
        }
        let entry = (bytes.len() as u32, piece.len() as u32, value);
        bytes.extend_from_slice(piece);
        let bytes = &*bytes;
        self.table
            .insert_unique(hash, entry, |e| Self::hash(Self::key(bytes, e)));
        true
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn clear(&mut self) {
        self.table.clear();
        self.bytes.clear();
    }

    /// Every piece and its value, sorted.
    #[cfg(test)]
    fn sorted(&self) -> Vec<(Vec<u8>, V)>
    where
        V: Ord,
    {
        let mut all: Vec<_> = self
            .table
            .iter()
            .map(|e| (Self::key(&self.bytes, e).to_vec(), e.2))
            .collect();
        all.sort();
        all
    }
}

/// A piece of 8 to 15 bytes as two words: bytes 0..n in the low bytes, the length in the top
/// byte (so "a" and "a\0" would differ). Two `u64`s rather than a `u128`, whose 16-byte
/// alignment pads a map's buckets to 32 bytes: with a `u32` or `(u32, u32)` value they are 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShortKey([u64; 2]);

impl std::hash::Hash for ShortKey {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
        state.write_u64(self.0[1]);
    }
}

/// The key of a piece of at most 15 bytes (see `ShortKey`). Loads overlap instead of copying byte
/// by byte.
#[inline(always)]
fn pack_short(p: &[u8]) -> Option<ShortKey> {
    let n = p.len();
    let load8 = |at: usize| u64::from_le_bytes(p[at..at + 8].try_into().expect("8 bytes"));
    let load4 = |at: usize| u32::from_le_bytes(p[at..at + 4].try_into().expect("4 bytes")) as u64;
    let (lo, hi) = match n {
        16.. => return None,
        8.. => (
            load8(0),
            if n > 8 {
                load8(n - 8) >> ((16 - n) * 8)
            } else {
                0
            },
        ),
        4.. => (load4(0) | load4(n - 4) << ((n - 4) * 8), 0),
        _ => (p.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64), 0),
    };
    Some(ShortKey([lo, hi | (n as u64) << 56]))
}

/// The pair table: `(left, right)` to the id of the token their bytes make, or NONE. Looked up
/// for every candidate merge, so its cost is the cost of a merge on text never seen: most of it is
/// loading the entry of a pair that is a token, an L2 or L3 miss. hashbrown's raw table with the
/// three ids packed into one `u64` entry (21 bits each) halves the entry array of a std map of
/// `u64` keys to `u32` ids, whose buckets are 16 bytes (1 MiB instead of 2 for cl100k's 100k
/// canonical splits); `arcade pack` took 1.5–2.5% less CPU. The control bytes (128 KiB, in L2)
/// still answer most pairs that are not tokens without touching the entries.
#[derive(Default)]
pub(crate) struct PairMap(hashbrown::HashTable<u64>);

impl PairMap {
    /// Ids are 21 bits in an entry; vocabularies are limited to this many ids (`Vocab::new`).
    const ID_BITS: u32 = 21;
    pub(crate) const ID_LIMIT: usize = 1 << Self::ID_BITS;
    const ID_MASK: u64 = (1 << Self::ID_BITS) - 1;

    fn with_capacity(n: usize) -> Self {
        PairMap(hashbrown::HashTable::with_capacity(n))
    }

    #[inline(always)]
    fn hash(key: u64) -> u64 {
        use std::hash::BuildHasher;
        rustc_hash::FxBuildHasher.hash_one(key)
    }

    /// Adds a pair unless present (a pair's concatenation is one byte string, so one token).
    fn insert(&mut self, left: u32, right: u32, id: u32) {
        debug_assert!([left, right, id]
            .iter()
            .all(|&x| (x as usize) < Self::ID_LIMIT));
        let key = (left as u64) << Self::ID_BITS | right as u64;
        let hash = Self::hash(key);
        if self.0.find(hash, |&e| e >> Self::ID_BITS == key).is_none() {
            self.0
                .insert_unique(hash, key << Self::ID_BITS | id as u64, |&e| {
                    Self::hash(e >> Self::ID_BITS)
                });
        }
    }

    #[inline(always)]
    fn get(&self, left: u32, right: u32) -> u32 {
        if (left | right) as usize >= Self::ID_LIMIT {
            return NONE;
        }
        let key = (left as u64) << Self::ID_BITS | right as u64;
        self.0
            .find(Self::hash(key), |&e| e >> Self::ID_BITS == key)
            .map_or(NONE, |&e| (e & Self::ID_MASK) as u32)
    }

    /// Every pair, as `(left, right, id)`.
    #[cfg(test)]
    fn entries(&self) -> std::collections::BTreeSet<(u32, u32, u32)> {
        let id = |e: u64| (e & Self::ID_MASK) as u32;
        self.0
            .iter()
            .map(|&e| (id(e >> (2 * Self::ID_BITS)), id(e >> Self::ID_BITS), id(e)))
            .collect()
    }
}

impl std::fmt::Debug for PairMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairMap")
            .field("len", &self.0.len())
            .finish()
    }
}

/// The ordinary vocabulary: token bytes to id, id to bytes, and the pair table.
#[derive(Debug)]
pub(crate) struct Vocab {
    encoder: PieceMap<u32>,
    /// `bytes[offsets[id]..offsets[id + 1]]` are the bytes of `id` (empty for unused ids).
    bytes: Cow<'static, [u8]>,
    offsets: Cow<'static, [u32]>,
    byte_ids: [u32; 256],
    /// `byte_pairs[a << 8 | b]`: the id of the two-byte token `[a, b]`, or NONE. Every piece starts
    /// as single bytes, so its first round of pair lookups is a load from this 256 KiB table
    /// instead of a probe of the large pair map.
    byte_pairs: Cow<'static, [u32]>,
    /// `(left, right)` to the id of their concatenation: every split of every token into two
    /// tokens, or only each token's canonical split when those are known (see `Vocab::new`).
    pairs: PairMap,
    /// The canonical split offsets `pairs` was built from, if it was (see `Vocab::new`).
    canonical_splits: Option<&'static [u8]>,
    /// The backtracking encoder's tables: embedded, or built on the first piece of
    /// `BACKTRACK_PIECE` bytes; None inside if this vocabulary does not merge in rank order (see
    /// `backtrack.rs`).
    backtrack: OnceLock<Option<Box<Backtrack>>>,
    /// Pieces of at least this many bytes go to the backtracking encoder: `[1]` if they end in a
    /// character past the Latin blocks (`last_char_lead`), `[0]` otherwise. Atomic because a
    /// vocabulary built at run time lowers them while encoding (`ADOPT_BACKTRACK_BYTES`).
    backtrack_from: [AtomicUsize; 2],
    /// Bytes the merge loops took that `EMBEDDED_BACKTRACK_PIECE` would send to backtracking,
    /// counted up to `ADOPT_BACKTRACK_BYTES`.
    backtrack_due: AtomicU64,
}

impl Vocab {
    /// The tables of a ranks file. `canonical_splits`, when given, holds for each id the byte
    /// offset of its canonical split (0: a single byte, or unreachable), as computed by
    /// `backtrack::canonical_splits`; the embedded ranks come with theirs.
    ///
    /// Why the pair table can hold only canonical splits: tiktoken merges adjacent parts `a, b`
    /// whenever `a + b` is a token, whatever the split, but a merge BPE actually performs always
    /// forms its token from that token's canonical split (point 1 of `backtrack.rs`'s comment),
    /// so a pair that is not one is never the lowest-ranked candidate. The table then holds 100k
    /// entries instead of 233k for cl100k: a quarter of the memory (2 MiB instead of 8), which
    /// took 10% off merging text never seen, and building it from the offsets takes about 3 ms
    /// instead of 15 for every split of every token.
    pub(crate) fn new(
        ranks: Vec<(Vec<u8>, u32)>,
        canonical_splits: Option<&'static [u8]>,
    ) -> Result<Vocab, LoadError> {
        let mut encoder = PieceMap::with_capacity(PieceMap::<u32>::tier_counts(
            ranks.iter().map(|(t, _)| t.len()),
        ));
        let max_id = ranks.iter().map(|(_, r)| *r).max().unwrap_or(0) as usize;
        // Ids index dense tables; tiktoken files number their tokens 0..n. Allow gaps, but not
        // a stray huge rank that would make those tables gigabytes.
        let limit = (2 * ranks.len() + (1 << 16)).min(PairMap::ID_LIMIT);
        if max_id >= limit {
            let line = ranks
                .iter()
                .position(|(_, r)| *r as usize == max_id)
                .unwrap_or(0)
                + 1;
            return Err(LoadError::Ranks {
                line,
                message: if limit == PairMap::ID_LIMIT {
                    format!("rank {max_id} is too large: token ids must stay below {limit} (2^21)")
                } else {
                    format!(
                        "rank {max_id} is far beyond the {} tokens of the file (ranks are token ids and must stay below {limit})",
                        ranks.len()
                    )
                },
            });
        }
        let mut by_id: Vec<Option<usize>> = vec![None; max_id + 1];
        for (index, (token, rank)) in ranks.iter().enumerate() {
            if let Some(other) = by_id[*rank as usize] {
                return Err(LoadError::Ranks {
                    line: index + 1,
                    message: format!("rank {rank} is already used on line {}", other + 1),
                });
            }
            by_id[*rank as usize] = Some(index);
            if !encoder.insert(token, *rank) {
                return Err(LoadError::Ranks {
                    line: index + 1,
                    message: "token bytes appear twice in the file".into(),
                });
            }
        }
        let mut byte_ids = [NONE; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = encoder
                .get(&[b as u8][..])
                .ok_or(LoadError::MissingByte { byte: b as u8 })?;
        }
        let mut bytes = Vec::with_capacity(ranks.iter().map(|(t, _)| t.len()).sum());
        let mut offsets = Vec::with_capacity(max_id + 2);
        for slot in &by_id {
            offsets.push(bytes.len() as u32);
            if let Some(index) = slot {
                bytes.extend_from_slice(&ranks[*index].0);
            }
        }
        offsets.push(bytes.len() as u32);
        let mut pairs;
        match canonical_splits {
            Some(splits) => {
                pairs = PairMap::with_capacity(ranks.len());
                for (index, (token, rank)) in ranks.iter().enumerate() {
                    let at = splits.get(*rank as usize).copied().unwrap_or(0) as usize;
                    if at == 0 {
                        continue;
                    }
                    let halves = token
                        .get(..at)
                        .zip(token.get(at..))
                        .and_then(|(l, r)| encoder.get(l).zip(encoder.get(r)));
                    let Some((left, right)) = halves else {
                        return Err(LoadError::Ranks {
                            line: index + 1,
                            message: format!(
                                "the canonical split at byte {at} does not give two tokens"
                            ),
                        });
                    };
                    pairs.insert(left, right, *rank);
                }
            }
            None => {
                pairs = PairMap::with_capacity(ranks.len() * 4);
                for (token, rank) in &ranks {
                    for split in 1..token.len() {
                        let Some(left) = encoder.get(&token[..split]) else {
                            continue;
                        };
                        if let Some(right) = encoder.get(&token[split..]) {
                            pairs.insert(left, right, *rank);
                        }
                    }
                }
            }
        }
        let mut byte_pairs = vec![NONE; 1 << 16];
        for (i, slot) in byte_pairs.iter_mut().enumerate() {
            if let Some(id) = encoder.get(&[(i >> 8) as u8, i as u8][..]) {
                *slot = id;
            }
        }
        Ok(Vocab {
            canonical_splits,
            encoder,
            bytes: Cow::Owned(bytes),
            offsets: Cow::Owned(offsets),
            byte_ids,
            byte_pairs: Cow::Owned(byte_pairs),
            pairs,
            backtrack: OnceLock::new(),
            backtrack_from: [BACKTRACK_PIECE; 2].map(AtomicUsize::new),
            backtrack_due: AtomicU64::new(0),
        })
    }

    /// The vocabulary of the embedded cl100k ranks, with the backtracking encoder and its
    /// thresholds (`EMBEDDED_BACKTRACK_PIECE`). Its token bytes, whole-token table of tokens of up
    /// to 7 bytes and two-byte table are read in place from the binary (`embedded.rs`); only the
    /// hash maps are filled here: tokens of 8 bytes or more (30k), and the canonical splits, taken
    /// from the backtracking tables' records. About 2 ms, against 22-25 for parsing the ranks
    /// and building everything (`Vocab::new`); a test checks that both give the same tables.
    pub(crate) fn embedded() -> Vocab {
        #[cfg(target_endian = "little")]
        {
            use crate::embedded::{BYTES, BYTE_PAIRS, OFFSETS, TINY};
            let bytes: &'static [u8] = &BYTES.bytes;
            let offsets: &'static [u32] = bytemuck::cast_slice(&OFFSETS.bytes);
            let token = |id: usize| &bytes[offsets[id] as usize..offsets[id + 1] as usize];
            let ids = offsets.len() - 1;
            let (tiny, short) = PieceMap::<u32>::tier_counts((0..ids).map(|id| token(id).len()));
            let mut encoder = PieceMap {
                tiny: FlatMap::from_slots(Cow::Borrowed(bytemuck::cast_slice(&TINY.bytes)), tiny),
                short: FxHashMap::with_capacity_and_hasher(short, Default::default()),
                long: LongMap::default(),
            };
            for id in 0..ids {
                let t = token(id);
                if t.len() > 7 {
                    encoder.insert(t, id as u32);
                }
            }
            let mut byte_ids = [NONE; 256];
            for (b, slot) in byte_ids.iter_mut().enumerate() {
                *slot = encoder.get(&[b as u8]).expect("every byte is a token");
            }
            let backtrack = Backtrack::embedded();
            assert_eq!(backtrack.id_limit(), ids, "tables of the same ranks");
            let mut pairs = PairMap::with_capacity(ids);
            for (left, right, id) in backtrack.split_pairs() {
                pairs.insert(left, right, id);
            }
            Vocab {
                canonical_splits: Some(crate::ranks::CL100K_BASE_SPLITS),
                encoder,
                bytes: Cow::Borrowed(bytes),
                offsets: Cow::Borrowed(offsets),
                byte_ids,
                byte_pairs: Cow::Borrowed(bytemuck::cast_slice(&BYTE_PAIRS.bytes)),
                pairs,
                backtrack: OnceLock::from(Some(Box::new(backtrack))),
                backtrack_from: EMBEDDED_BACKTRACK_PIECE.map(AtomicUsize::new),
                backtrack_due: AtomicU64::new(0),
            }
        }
        #[cfg(not(target_endian = "little"))]
        {
            let ranks =
                crate::ranks::parse(crate::ranks::CL100K_BASE).expect("the embedded ranks parse");
            let mut vocab = Vocab::new(ranks, Some(crate::ranks::CL100K_BASE_SPLITS))
                .expect("the embedded ranks are valid");
            let tables = Backtrack::new(&vocab).expect("cl100k merges happen in rank order");
            vocab.backtrack = OnceLock::from(Some(Box::new(tables)));
            vocab.backtrack_from = EMBEDDED_BACKTRACK_PIECE.map(AtomicUsize::new);
            vocab
        }
    }

    /// Whether pieces go to backtracking at `EMBEDDED_BACKTRACK_PIECE`'s thresholds (for tests).
    #[cfg(test)]
    pub(crate) fn backtracks_short_pieces(&self) -> bool {
        self.backtrack_from[1].load(Ordering::Relaxed) == EMBEDDED_BACKTRACK_PIECE[1]
    }

    /// The id of a byte string that is an ordinary token. Pieces of one and two bytes (a third
    /// of the pieces of text: digits, punctuation, spaces, short words) are answered from the
    /// small dense tables the merge loops use anyway, which stay in L1 and L2, rather than by a
    /// probe of the 2 MiB whole-token table, whose loads were the largest single cost of the
    /// whole-piece lookups.
    #[inline(always)]
    pub(crate) fn id_of(&self, bytes: &[u8]) -> Option<u32> {
        match *bytes {
            [] => None,
            [b] => Some(self.byte_ids[b as usize]),
            [a, b] => Some(self.merged_bytes(a, b)).filter(|&id| id != NONE),
            _ => self.encoder.get(bytes),
        }
    }

    /// The byte offset of `id`'s canonical split (0: none), when the vocabulary came with them.
    pub(crate) fn canonical_split(&self, id: u32) -> Option<usize> {
        self.canonical_splits
            .map(|splits| splits.get(id as usize).copied().unwrap_or(0) as usize)
    }

    /// The bytes of an ordinary token id.
    #[inline]
    pub(crate) fn bytes_of(&self, id: u32) -> Option<&[u8]> {
        let id = id as usize;
        let (start, end) = (*self.offsets.get(id)?, *self.offsets.get(id + 1)?);
        (end > start).then(|| &self.bytes[start as usize..end as usize])
    }

    /// One past the largest ordinary id.
    pub(crate) fn id_limit(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn len(&self) -> usize {
        self.encoder.len()
    }

    /// The id of the token whose bytes are those of `left` then `right`, or NONE.
    #[inline(always)]
    pub(crate) fn merged(&self, left: u32, right: u32) -> u32 {
        self.pairs.get(left, right)
    }

    /// The id of the two-byte token `[a, b]`, or NONE.
    #[inline(always)]
    fn merged_bytes(&self, a: u8, b: u8) -> u32 {
        self.byte_pairs[(a as usize) << 8 | b as usize]
    }

    /// BPE of a piece that is not itself a token (so of at least two bytes), appended to `out`.
    #[inline(always)]
    fn merge_piece(&self, piece: &[u8], scratch: &mut MergeScratch, out: &mut Vec<u32>) {
        let other_script = (last_char_lead(piece) >= 0xCD) as usize;
        let from = self.backtrack_from[other_script].load(Ordering::Relaxed);
        if piece.len() >= from && self.encode_long(piece, out) {
            return;
        }
        if piece.len() >= EMBEDDED_BACKTRACK_PIECE[other_script] {
            self.note_backtrack_due(piece.len());
        }
        self.merge_loops(piece, scratch, out, |_, _| {})
    }

    /// Counts `bytes` towards `ADOPT_BACKTRACK_BYTES`, and adopts the lower thresholds when they
    /// are reached (building the tables, once, if this vocabulary can have them) or the tables
    /// exist already. Never called for the embedded ranks, whose thresholds are those already.
    #[cold]
    #[inline(never)]
    fn note_backtrack_due(&self, bytes: usize) {
        // Once over, nothing more to count: a load of a line no thread writes any longer.
        if self.backtrack_due.load(Ordering::Relaxed) >= ADOPT_BACKTRACK_BYTES {
            return;
        }
        let due = self
            .backtrack_due
            .fetch_add(bytes as u64, Ordering::Relaxed)
            + bytes as u64;
        // Tables already built (for a piece of `BACKTRACK_PIECE` bytes) are there to be used.
        if (due >= ADOPT_BACKTRACK_BYTES || self.backtrack_built()) && self.backtrack().is_some() {
            self.backtrack_due
                .fetch_max(ADOPT_BACKTRACK_BYTES, Ordering::Relaxed);
            for (from, lower) in self.backtrack_from.iter().zip(EMBEDDED_BACKTRACK_PIECE) {
                from.store(lower, Ordering::Relaxed);
            }
        }
    }

    /// BPE of a piece of at least two bytes by the merge loops: the flat one under `LARGE_PIECE`
    /// bytes, the heap from there. `on_merge(left, right)` sees every merge in order (a no-op
    /// when encoding, which the compiler removes).
    fn merge_loops(
        &self,
        piece: &[u8],
        scratch: &mut MergeScratch,
        out: &mut Vec<u32>,
        on_merge: impl FnMut(u32, u32),
    ) {
        if piece.len() >= LARGE_PIECE {
            return self.merge_heap(piece, scratch, out, on_merge);
        }
        self.merge_short(piece, scratch, out, on_merge)
    }

    /// The last merge `(left, right)` of BPE on `bytes`, the bytes of token `id`, if that BPE
    /// gives back `[id]` (its canonical split, see `backtrack.rs`); None if `id` is unreachable.
    /// The same merge loops as encoding, told to report each merge; never the backtracking
    /// encoder, whose tables are built from these splits.
    pub(crate) fn last_merge(
        &self,
        bytes: &[u8],
        id: u32,
        scratch: &mut MergeScratch,
    ) -> Option<(u32, u32)> {
        let mut out = std::mem::take(&mut scratch.out);
        out.clear();
        let mut last = None;
        self.merge_loops(bytes, scratch, &mut out, |left, right| {
            last = Some((left, right))
        });
        let whole = out == [id];
        scratch.out = out;
        last.filter(|_| whole)
    }

    /// The flat loop for pieces under `LARGE_PIECE` bytes; `on_merge` as in `merge_loops`.
    #[inline(always)]
    fn merge_short(
        &self,
        piece: &[u8],
        scratch: &mut MergeScratch,
        out: &mut Vec<u32>,
        mut on_merge: impl FnMut(u32, u32),
    ) {
        assert!(
            piece.len() < LARGE_PIECE,
            "the heap loop takes longer pieces"
        );
        let parts = &mut scratch.parts;
        // parts[i] = (id of part i, id of part i merged with part i + 1, or NONE).
        parts.clear();
        parts.reserve(LARGE_PIECE + SHIFT_WINDOW);
        parts.extend(
            piece
                .windows(2)
                .map(|w| (self.byte_ids[w[0] as usize], self.merged_bytes(w[0], w[1]))),
        );
        parts.push((self.byte_ids[piece[piece.len() - 1] as usize], NONE));
        loop {
            let mut best = (NONE, 0);
            for (i, &(_, rank)) in parts.iter().enumerate() {
                if rank < best.0 {
                    best = (rank, i);
                }
            }
            let (rank, i) = best;
            if rank == NONE {
                break;
            }
            on_merge(parts[i].0, parts[i + 1].0);
            parts[i].0 = rank;
            if parts.len() - (i + 2) <= SHIFT_WINDOW {
                // SAFETY: the capacity is at least i + 2 + SHIFT_WINDOW (reserved above, and
                // there are fewer than LARGE_PIECE parts); `ptr::copy` is untyped, so copying
                // the uninitialized slots past the length is allowed, and they stay past it.
                unsafe {
                    let p = parts.as_mut_ptr();
                    std::ptr::copy(p.add(i + 2), p.add(i + 1), SHIFT_WINDOW);
                    parts.set_len(parts.len() - 1);
                }
            } else {
                parts.remove(i + 1);
            }
            parts[i].1 = match parts.get(i + 1) {
                Some(&(next, _)) => self.merged(rank, next),
                None => NONE,
            };
            if i > 0 {
                parts[i - 1].1 = self.merged(parts[i - 1].0, rank);
            }
        }
        out.extend(parts.iter().map(|&(id, _)| id));
    }

    /// BPE of a piece by backtracking; false if this vocabulary cannot use it. Out of line:
    /// written inline in `merge_piece`, it made the caller's hot loop (whole-token pieces, which
    /// never get here) 25% slower on a megabyte of digits, one piece per digit.
    #[inline(never)]
    fn encode_long(&self, piece: &[u8], out: &mut Vec<u32>) -> bool {
        let Some(backtrack) = self.backtrack() else {
            return false;
        };
        let done = backtrack.encode(self, piece, out);
        debug_assert!(done, "the backtracking search cannot fail");
        done
    }

    /// Whether the backtracking tables exist, without building them.
    pub(crate) fn backtrack_built(&self) -> bool {
        matches!(self.backtrack.get(), Some(Some(_)))
    }

    /// The backtracking encoder, built on first use; None if this vocabulary cannot use it.
    pub(crate) fn backtrack(&self) -> Option<&Backtrack> {
        self.backtrack
            .get_or_init(|| Backtrack::new(self).map(Box::new))
            .as_deref()
    }

    /// BPE of a piece of at least two bytes with the heap loop whatever its length (for tests).
    #[cfg(test)]
    pub(crate) fn merge_with_heap(&self, piece: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        self.merge_heap(piece, &mut MergeScratch::default(), &mut out, |_, _| {});
        out
    }

    /// The same merges over a linked list with a heap of candidate pairs: O(n log n) on any piece.
    /// The list lives in one array of 16-byte nodes (one cache line holds four neighbours), and
    /// the array and the heap's storage are reused from piece to piece. `on_merge` as in
    /// `merge_loops`.
    fn merge_heap(
        &self,
        piece: &[u8],
        scratch: &mut MergeScratch,
        out: &mut Vec<u32>,
        mut on_merge: impl FnMut(u32, u32),
    ) {
        let n = piece.len();
        let nodes = &mut scratch.nodes;
        nodes.clear();
        nodes.extend(piece.iter().enumerate().map(|(i, &b)| Node {
            id: self.byte_ids[b as usize],
            next: i as u32 + 1,
            prev: (i as u32).wrapping_sub(1),
            // What part i merged with its right neighbour would be (NONE: not a token). Heap
            // entries are (rank, i); one whose rank no longer equals `pair` is stale and is
            // skipped, which costs a load instead of another pair lookup.
            pair: piece.get(i + 1).map_or(NONE, |&c| self.merged_bytes(b, c)),
        }));
        nodes[n - 1].next = NONE;
        let mut heap = std::mem::take(&mut scratch.heap);
        heap.clear();
        heap.extend(
            nodes
                .iter()
                .enumerate()
                .filter(|(_, node)| node.pair != NONE)
                .map(|(i, node)| Reverse((node.pair, i as u32))),
        );
        let mut heap = BinaryHeap::from(heap);
        while let Some(Reverse((rank, i))) = heap.pop() {
            let i = i as usize;
            if nodes[i].pair != rank {
                continue;
            }
            let j = nodes[i].next as usize;
            on_merge(nodes[i].id, nodes[j].id);
            let after = nodes[j].next;
            nodes[j].pair = NONE; // part j is gone: its heap entries are stale now
            nodes[i].id = rank;
            nodes[i].next = after;
            nodes[i].pair = NONE;
            if after != NONE {
                nodes[after as usize].prev = i as u32;
                let r = self.merged(rank, nodes[after as usize].id);
                nodes[i].pair = r;
                if r != NONE {
                    heap.push(Reverse((r, i as u32)));
                }
            }
            let p = nodes[i].prev;
            if p != NONE {
                let r = self.merged(nodes[p as usize].id, rank);
                nodes[p as usize].pair = r;
                if r != NONE {
                    heap.push(Reverse((r, p)));
                }
            }
        }
        scratch.heap = heap.into_vec();
        // Part 0 is never merged away (a merge removes the right part), so the list starts there.
        let mut i = 0;
        loop {
            out.push(nodes[i].id);
            match nodes[i].next {
                NONE => break,
                j => i = j as usize,
            }
        }
    }
}

/// One part in [`Vocab::merge_heap`]'s linked list.
#[derive(Clone, Copy)]
struct Node {
    id: u32,
    next: u32,
    prev: u32,
    pair: u32,
}

/// Buffers of the merge loops, kept per thread so that merging a piece allocates nothing.
#[derive(Default)]
pub(crate) struct MergeScratch {
    /// The ids of `Vocab::last_merge`'s piece.
    out: Vec<u32>,
    /// (id, id merged with the next part) for the short-piece loop.
    parts: Vec<(u32, u32)>,
    nodes: Vec<Node>,
    heap: Vec<Reverse<(u32, u32)>>,
}

/// The first byte of the last UTF-8 character of `piece` (its last byte if that is not UTF-8).
/// From 0xCD on, the character is past the Latin blocks (U+0340 on: Greek, Cyrillic, Arabic, the
/// Indic scripts, CJK, Hangul, ...).
#[inline(always)]
fn last_char_lead(piece: &[u8]) -> u8 {
    let n = piece.len();
    let mut i = n - 1;
    while i > 0 && n - i < 4 && piece[i] & 0xC0 == 0x80 {
        i -= 1;
    }
    piece[i]
}

/// Per-thread memory of pieces already merged, for one tokenizer at a time.
#[derive(Default)]
struct PieceCache {
    /// Which tokenizer the entries belong to (`Tokenizer`'s unique id); 0 = none.
    owner: u64,
    spans: PieceMap<(u32, u32)>,
    ids: Vec<u32>,
    scratch: MergeScratch,
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache::default());
}

/// Runs `f` with an encoder for pieces that are not tokens, backed by this thread's cache.
#[inline]
pub(crate) fn with_piece_encoder<R>(
    vocab: &Vocab,
    owner: u64,
    f: impl FnOnce(&mut PieceEncoder<'_>) -> R,
) -> R {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.owner != owner {
            cache.spans.clear();
            cache.ids.clear();
            cache.owner = owner;
            // Room for the most ids the arena ever holds, so that it never moves: growing it by
            // doubling copied every id cached so far into memory never touched before, page by
            // page (12% of `arcade pack`'s page faults, -1% CPU). The reservation is address space;
            // pages become memory as ids are written to them.
            cache
                .ids
                .reserve(MAX_CACHE_IDS + MAX_CACHED_PIECE + SMALL_COPY);
        }
        f(&mut PieceEncoder {
            vocab,
            cache: &mut cache,
        })
    })
}

pub(crate) struct PieceEncoder<'a> {
    vocab: &'a Vocab,
    cache: &'a mut PieceCache,
}

impl PieceEncoder<'_> {
    /// Appends the ids of `piece`, which is not itself a token.
    #[inline]
    pub(crate) fn encode(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        let c = &mut *self.cache;
        if let Some((start, len)) = c.spans.get(piece) {
            let (start, len) = (start as usize, len as usize);
            if len <= SMALL_COPY {
                out.reserve(SMALL_COPY);
                // SAFETY: the arena keeps room for SMALL_COPY ids past every span's start (the
                // `reserve` on insertion below) and `out` has it now; `copy_nonoverlapping` is
                // untyped, so copying arena slots past its length is allowed, and only the `len`
                // copied ids become part of `out`.
                unsafe {
                    let end = out.len();
                    std::ptr::copy_nonoverlapping(
                        c.ids.as_ptr().add(start),
                        out.as_mut_ptr().add(end),
                        SMALL_COPY,
                    );
                    out.set_len(end + len);
                }
            } else {
                out.extend_from_slice(&c.ids[start..start + len]);
            }
            return;
        }
        let before = out.len();
        self.vocab.merge_piece(piece, &mut c.scratch, out);
        if piece.len() <= MAX_CACHED_PIECE {
            if c.spans.len() >= MAX_CACHE_ENTRIES
                || c.ids.len() >= MAX_CACHE_IDS
                || c.spans.long_bytes() >= MAX_CACHE_LONG_BYTES
            {
                c.spans.clear();
                c.ids.clear();
            }
            let start = c.ids.len() as u32;
            c.ids.extend_from_slice(&out[before..]);
            c.ids.reserve(SMALL_COPY);
            c.spans.insert(piece, (start, (out.len() - before) as u32));
        }
    }

    /// How many ids `piece` (not itself a token) encodes to.
    #[inline]
    pub(crate) fn count(&mut self, piece: &[u8], scratch: &mut Vec<u32>) -> usize {
        if let Some((_, len)) = self.cache.spans.get(piece) {
            return len as usize;
        }
        scratch.clear();
        self.encode(piece, scratch);
        scratch.len()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{last_char_lead, pack_short, pack_tiny, PairMap, Vocab, NONE};

    #[test]
    fn ids_beyond_the_pair_tables_reach_are_refused() {
        // Enough tokens that twice their count would allow rank 2^21, which the pair table's
        // 21-bit ids cannot hold.
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..1_100_000u32)
            .map(|i| (i.to_le_bytes().to_vec(), i))
            .collect();
        ranks.push((b"beyond".to_vec(), PairMap::ID_LIMIT as u32));
        let err = Vocab::new(ranks, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1100001") && err.contains("2^21"),
            "{err}"
        );
    }

    #[test]
    fn pair_map_finds_exactly_the_pairs_inserted() {
        let mut map = PairMap::with_capacity(4);
        let top = PairMap::ID_LIMIT as u32 - 1;
        let pairs = [
            (0, 0, 7),
            (0, 1, 8),
            (1, 0, 9),
            (top, top, top),
            (5, top, 0),
        ];
        for &(l, r, id) in &pairs {
            map.insert(l, r, id);
        }
        map.insert(0, 0, 99); // present already: kept as it was
        for &(l, r, id) in &pairs {
            assert_eq!(map.get(l, r), id, "({l}, {r})");
        }
        for (l, r) in [
            (1, 1),
            (top, 0),
            (0, top),
            (top + 1, top),
            (top, NONE),
            (NONE, NONE),
        ] {
            assert_eq!(map.get(l, r), NONE, "({l}, {r})");
        }
        assert_eq!(map.entries().len(), pairs.len());
    }

    #[test]
    fn embedded_vocabulary_is_the_one_built_from_the_ranks_file() {
        // `Vocab::new` from the parsed file, independent of the tables build.rs wrote (on a
        // big-endian machine both come from the file).
        let ranks = crate::ranks::parse(crate::ranks::CL100K_BASE).unwrap();
        let built = Vocab::new(ranks, Some(crate::ranks::CL100K_BASE_SPLITS)).unwrap();
        let embedded = Vocab::embedded();
        assert!(matches!(embedded.bytes, Cow::Borrowed(_)) || cfg!(target_endian = "big"));
        assert!(built.bytes == embedded.bytes, "token bytes differ");
        assert!(built.offsets == embedded.offsets, "offsets differ");
        assert!(
            built.byte_pairs == embedded.byte_pairs,
            "two-byte table differs"
        );
        assert_eq!(built.byte_ids, embedded.byte_ids);
        assert!(
            built.encoder.tiny.slots() == embedded.encoder.tiny.slots(),
            "whole-token table differs"
        );
        assert_eq!(built.encoder.tiny.len, embedded.encoder.tiny.len);
        assert_eq!(built.encoder.short, embedded.encoder.short);
        assert_eq!(built.encoder.long.sorted(), embedded.encoder.long.sorted());
        assert_eq!(built.encoder.long.sorted().len(), 1_030);
        assert_eq!(built.pairs.entries(), embedded.pairs.entries());
        assert_eq!(built.pairs.entries().len(), 100_000);
        assert_eq!((built.len(), built.id_limit()), (100_256, 100_256));
        assert_eq!((embedded.len(), embedded.id_limit()), (100_256, 100_256));
        assert_eq!(built.canonical_splits, embedded.canonical_splits);
        assert!(embedded.backtracks_short_pieces());
    }

    #[test]
    fn last_char_lead_finds_the_first_byte_of_the_last_character() {
        for (piece, lead) in [
            ("ab", b'b'),
            (" été", 0xC3),
            ("’homme", b'e'),
            ("Größe", b'e'),
            (" привет", 0xD1),
            ("日本語", 0xE8),
            ("a😀", 0xF0),
            ("한국어", 0xEC),
            ("\u{036F}x\u{0370}", 0xCD),
        ] {
            assert_eq!(last_char_lead(piece.as_bytes()), lead, "{piece:?}");
        }
        // Not UTF-8: never more than three continuation bytes back, never before the start.
        assert_eq!(last_char_lead(&[b'a', 0x80, 0x80, 0x80, 0x80]), 0x80);
        assert_eq!(last_char_lead(&[0x80, 0x80]), 0x80);
        assert_eq!(last_char_lead(&[0xE3, 0x81]), 0xE3);
        // The Latin blocks end at U+033F, whose lead byte is 0xCC.
        assert!(
            last_char_lead("ɏ".as_bytes()) < 0xCD && last_char_lead("\u{033F}".as_bytes()) < 0xCD
        );
        assert!(last_char_lead("Ͱ".as_bytes()) >= 0xCD);
    }

    #[test]
    fn short_keys_are_unique_and_only_for_short_pieces() {
        // All prefixes and suffixes of a string with zero bytes and repeats: any two different
        // slices must pack differently (the length byte separates "a" from "a\0").
        let text = b"\0a\0\0ab\xffab\0cdefghijk\xff\0";
        let mut seen = std::collections::HashMap::new();
        for start in 0..text.len() {
            for end in start..=text.len() {
                let piece = &text[start..end];
                match pack_short(piece) {
                    Some(key) => {
                        if let Some(other) = seen.insert(key, piece) {
                            assert_eq!(other, piece, "two pieces share key {key:?}");
                        }
                    }
                    None => assert!(piece.len() > 15),
                }
            }
        }
        assert!(pack_short(&[7; 15]).is_some() && pack_short(&[7; 16]).is_none());
        let mut seen = std::collections::HashMap::new();
        for start in 0..text.len() {
            for end in start + 1..=text.len() {
                let piece = &text[start..end];
                match pack_tiny(piece) {
                    Some(key) => {
                        assert_ne!(key, 0, "0 marks an empty slot");
                        if let Some(other) = seen.insert(key, piece) {
                            assert_eq!(other, piece, "two pieces share key {key:x}");
                        }
                    }
                    None => assert!(piece.len() > 7),
                }
            }
        }
    }
}

/// Where the time of a cold pass goes: the distinct pieces of a JSONL corpus (`text` field) that
/// are not tokens, by length, merged once each by `merge_piece` and by the backtracking encoder
/// (whose ids must agree). Not a test of speed; a measuring tool for benches/RESULTS.md:
/// `ARCADE_PIECE_PROFILE=FILE.jsonl cargo test --release -p arcade-tokenizer --lib piece_profile -- --ignored --nocapture`
#[cfg(test)]
#[test]
#[ignore]
fn piece_profile() {
    let Ok(path) = std::env::var("ARCADE_PIECE_PROFILE") else {
        eprintln!("set ARCADE_PIECE_PROFILE to a JSONL file with a `text` field");
        return;
    };
    let docs: Vec<String> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["text"].as_str().expect("a `text` string").to_string()
        })
        .collect();
    let tok = crate::Tokenizer::arcade100k();
    let inner = &*tok.inner;
    let vocab = &inner.vocab;
    let mut seen = std::collections::HashSet::new();
    let mut distinct: Vec<Vec<u8>> = Vec::new();
    let (mut total, mut whole) = (0usize, 0usize);
    for d in &docs {
        inner.splitter.for_each_piece(d, |p| {
            total += 1;
            if vocab.id_of(p).is_some() {
                whole += 1;
            } else if seen.insert(p.to_vec()) {
                distinct.push(p.to_vec());
            }
        });
    }
    println!(
        "pieces {total}, tokens themselves {whole}, others {}, distinct others {}",
        total - whole,
        distinct.len()
    );
    let backtrack = vocab.backtrack().expect("tables");
    let (mut scratch, mut out, mut out2) = (MergeScratch::default(), Vec::new(), Vec::new());
    let bounds = [2usize, 8, 16, 32, 48, 256, usize::MAX];
    for w in bounds.windows(2) {
        let set: Vec<&Vec<u8>> = distinct
            .iter()
            .filter(|p| p.len() >= w[0] && p.len() < w[1])
            .collect();
        let bytes: usize = set.iter().map(|p| p.len()).sum::<usize>().max(1);
        let best_of_3 = |f: &mut dyn FnMut()| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min)
        };
        let merge = best_of_3(&mut || {
            for p in &set {
                out.clear();
                vocab.merge_loops(p, &mut scratch, &mut out, |_, _| {});
            }
        });
        let back = best_of_3(&mut || {
            for p in &set {
                out2.clear();
                backtrack.encode(vocab, p, &mut out2);
            }
        });
        for p in &set {
            out.clear();
            out2.clear();
            vocab.merge_loops(p, &mut scratch, &mut out, |_, _| {});
            backtrack.encode(vocab, p, &mut out2);
            assert_eq!(out, out2, "{:?}", String::from_utf8_lossy(p));
        }
        println!(
            "{:>4}..{:<5} bytes: {:>7} pieces, {:>8} bytes; merge_piece {:5.1} ns/byte, backtracking {:5.1} ns/byte",
            w[0],
            if w[1] == usize::MAX { "".to_string() } else { w[1].to_string() },
            set.len(),
            bytes,
            merge * 1e9 / bytes as f64,
            back * 1e9 / bytes as f64
        );
    }
}
