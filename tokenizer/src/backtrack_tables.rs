//! The data of the backtracking encoder (`backtrack.rs`) and how to build it from a vocabulary's
//! tokens and canonical splits. Plain `std` and no `crate::` paths, because this file is compiled
//! twice: into the library, which builds the tables of a ranks file handed to it at run time, and
//! into `build.rs`, which builds those of the embedded cl100k ranks once, at compile time, so that
//! the built-in encodings start with them ready (see `Backtrack::embedded`).

/// No token, no node, no split.
pub(crate) const NONE: u32 = u32::MAX;

/// log2 of the number of bits of the pair filter (2 Mi bits for about 100k splits: about 5% of
/// non-splits pass the filter).
pub(crate) const PAIR_FILTER_BITS: u32 = 21;

/// A bit of the pair filter: the top bits of a multiplicative hash of the pair.
#[inline(always)]
pub(crate) fn pair_slot(left: u32, right: u32) -> usize {
    let key = (left as u64) << 32 | right as u64;
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PAIR_FILTER_BITS)) as usize
}

/// What the search needs of one token id, in one 16-byte record (it reads all of it for a
/// candidate). `repr(C)` and all `u32`: the embedded tables are these records as little-endian
/// bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenMeta {
    /// Byte length (0 for unused or unreachable ids).
    pub len: u32,
    /// The longest reachable token that is a proper prefix of this one, or NONE.
    pub next_prefix: u32,
    /// Canonical split (see `backtrack.rs`); NONE for single bytes.
    pub left: u32,
    pub right: u32,
}

impl TokenMeta {
    pub(crate) const EMPTY: TokenMeta = TokenMeta {
        len: 0,
        next_prefix: NONE,
        left: NONE,
        right: NONE,
    };
}

/// One node of the breadth-first trie: its children are nodes `first_child .. + child_count`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrieNode {
    pub first_child: u32,
    pub child_count: u32,
    /// The reachable token spelled by the path to this node, or NONE.
    pub token: u32,
}

/// The `len`, `left` and `right` of every id below `ids`, which is what `Tables::build` needs:
/// `bytes_of` gives an id's bytes (None for an unused id), `split_of` the canonical split of a
/// token of two bytes or more (None: unreachable, so left out).
pub(crate) fn token_meta<'a>(
    ids: usize,
    bytes_of: impl Fn(u32) -> Option<&'a [u8]>,
    mut split_of: impl FnMut(u32, &[u8]) -> Option<(u32, u32)>,
) -> Vec<TokenMeta> {
    let mut meta = vec![TokenMeta::EMPTY; ids];
    for (id, m) in meta.iter_mut().enumerate() {
        let id = id as u32;
        let Some(bytes) = bytes_of(id) else {
            continue;
        };
        if bytes.len() == 1 {
            m.len = 1;
        } else if let Some((left, right)) = split_of(id, bytes) {
            m.len = bytes.len() as u32;
            m.left = left;
            m.right = right;
        }
    }
    meta
}

/// The tables, owned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tables {
    pub meta: Vec<TokenMeta>,
    /// One bit per `pair_slot` of every canonical split.
    pub pair_filter: Vec<u64>,
    /// `root2[a << 8 | b]`: trie node of the two bytes `[a, b]`, or NONE.
    pub root2: Vec<u32>,
    /// Nodes numbered breadth first, children in increasing byte order, so that the children of a
    /// node are consecutive; `labels[i]` is the byte leading to node `i`.
    pub nodes: Vec<TrieNode>,
    pub labels: Vec<u8>,
}

impl Tables {
    /// The tables of a vocabulary, given `meta` with `len`, `left` and `right` filled in for every
    /// reachable id (`len` 0 for the others) and the bytes of every reachable id. None if its
    /// merges do not happen in rank order (point 2 of `backtrack.rs`).
    pub(crate) fn build<'a>(
        mut meta: Vec<TokenMeta>,
        bytes_of: impl Fn(u32) -> &'a [u8],
    ) -> Option<Tables> {
        // Point 2: every merge forms a token of higher rank than the merged tokens.
        for (id, m) in meta.iter().enumerate() {
            if m.len == 0 || m.left == NONE {
                continue;
            }
            for child in [m.left, m.right] {
                let c = meta.get(child as usize)?;
                if c.len == 0 || (c.left != NONE && child as usize >= id) {
                    return None;
                }
            }
        }

        // The trie, built from the reachable tokens in byte order rather than by inserting them
        // one by one into lists of children (which took 70% of the time of the old build): in that
        // order, the nodes of each depth appear in breadth-first order, and the children of a node
        // appear consecutively, so every node is created once, in place. `common[j]` is the length
        // of the prefix token j shares with token j - 1: token j creates the nodes of depths
        // `common[j] + 1 ..= len` (at least its own: a prefix sorts before what it prefixes).
        let mut sorted: Vec<u32> = (0..meta.len() as u32)
            .filter(|&id| meta[id as usize].len > 0)
            .collect();
        // The first eight bytes, big-endian and zero-padded, order tokens as their bytes do,
        // except for ties, which the full comparison breaks; comparing integers first halves
        // the sort.
        let head = |id: u32| {
            let b = bytes_of(id);
            let mut word = [0u8; 8];
            let n = b.len().min(8);
            word[..n].copy_from_slice(&b[..n]);
            u64::from_be_bytes(word)
        };
        let mut keyed: Vec<(u64, u32)> = sorted.iter().map(|&id| (head(id), id)).collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| bytes_of(a.1).cmp(bytes_of(b.1))));
        sorted.clear();
        sorted.extend(keyed.iter().map(|&(_, id)| id));

        let max_len = sorted.iter().map(|&id| meta[id as usize].len).max()? as usize;
        let mut common = vec![0usize; sorted.len()];
        let mut per_depth = vec![0usize; max_len + 1];
        per_depth[0] = 1;
        for j in 0..sorted.len() {
            let bytes = bytes_of(sorted[j]);
            if j > 0 {
                let before = bytes_of(sorted[j - 1]);
                common[j] = bytes.iter().zip(before).take_while(|(a, b)| a == b).count();
            }
            for count in &mut per_depth[common[j] + 1..=bytes.len()] {
                *count += 1;
            }
        }
        // The next free node number of each depth.
        let mut next = Vec::with_capacity(max_len + 1);
        let mut total = 0;
        for count in &per_depth {
            next.push(total as u32);
            total += count;
        }
        let empty = TrieNode {
            first_child: 0,
            child_count: 0,
            token: NONE,
        };
        let mut nodes = vec![empty; total];
        let mut labels = vec![0u8; total];
        // The current token's path: its node at each depth, and the deepest token at or above it.
        let mut path = vec![0u32; max_len + 1];
        let mut above = vec![NONE; max_len + 1];
        next[0] = 1;
        for (j, &id) in sorted.iter().enumerate() {
            let bytes = bytes_of(id);
            for depth in common[j] + 1..=bytes.len() {
                let node = next[depth];
                next[depth] += 1;
                let parent = &mut nodes[path[depth - 1] as usize];
                if parent.child_count == 0 {
                    parent.first_child = node;
                }
                parent.child_count += 1;
                labels[node as usize] = bytes[depth - 1];
                path[depth] = node;
                above[depth] = above[depth - 1];
            }
            nodes[path[bytes.len()] as usize].token = id;
            meta[id as usize].next_prefix = above[bytes.len() - 1];
            above[bytes.len()] = id;
        }

        let mut root2 = vec![NONE; 1 << 16];
        let root = nodes[0];
        for i in root.first_child..root.first_child + root.child_count {
            let a = labels[i as usize] as usize;
            let n = nodes[i as usize];
            for c in n.first_child..n.first_child + n.child_count {
                root2[a << 8 | labels[c as usize] as usize] = c;
            }
        }
        let mut pair_filter = vec![0u64; 1 << (PAIR_FILTER_BITS - 6)];
        for m in meta.iter().filter(|m| m.len > 0 && m.left != NONE) {
            let slot = pair_slot(m.left, m.right);
            pair_filter[slot / 64] |= 1 << (slot % 64);
        }
        Some(Tables {
            meta,
            pair_filter,
            root2,
            nodes,
            labels,
        })
    }
}
