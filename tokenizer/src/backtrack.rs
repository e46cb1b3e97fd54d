//! Linear-time BPE of one long piece, by backtracking over compatible token pairs.
//!
//! The heap merge loop (`Vocab::merge_heap`) is O(n log n), and worse, its state (about 20 bytes
//! per input byte, touched in rank order, that is in random order) stops fitting in the caches: on
//! a megabyte of letters with no split point its cost per byte grows 4x from 10 KB to 1 MB. This
//! module produces the same ids left to right, touching the input and its own state sequentially.
//! The idea is the "backtracking" encoder of GitHub's `bpe` crate (rust-gems); the code is ours.
//!
//! # Why it is exact
//!
//! Write `BPE(s)` for tiktoken's result on bytes `s` (lowest rank merged first, leftmost on ties).
//!
//! 1. **Canonical split.** For a token `t`, run BPE on `bytes(t)` alone. If the result is `[t]`, the
//!    last merge performed, `t = l + r`, is `t`'s canonical split; otherwise `t` is *unreachable*:
//!    BPE never outputs it (a token of the output was built inside its own span exactly as it is
//!    built alone, since merges across the span's edges never happened before it was complete and
//!    merges outside do not change the pairs inside). Unreachable tokens are left out below.
//! 2. **Merges happen in rank order.** We check, per vocabulary, that every canonical split has
//!    children of lower rank than the parent (single bytes are leaves, "formed at time zero").
//!    Every merge BPE performs is the canonical split of the token it forms (point 1 applied to
//!    the output token containing it), so then ranks only grow along a run: the rank of a merge is
//!    its time. A vocabulary failing the check (none of cl100k, Arcade100k, o200k, r50k, p50k
//!    does) is simply not given this encoder, and keeps the heap.
//! 3. **Compatible pairs.** `compatible(a, b)` decides whether `BPE(bytes(a) + bytes(b)) == [a, b]`.
//!    Until a merge crosses the boundary, each side evolves exactly as alone, so it replays the two
//!    merge trees backwards from `(a, b)`: at each state the boundary parts are `(x, y)`, and the
//!    merge that ended that state is the later (higher rank) of the merges that formed `x` and `y`;
//!    going back means replacing that part by its child at the boundary. The pair `(x, y)` would
//!    have merged across if `bytes(x) + bytes(y)` is a token ranking below that ending merge: with
//!    `x` undone last, strictly below (on a tie `x`'s own merge is further left and wins); with `y`
//!    undone last, below or equal (the cross pair is the leftmost). When both parts are single
//!    bytes, no earlier state exists and the pair is compatible. tiktoken would merge `(x, y)`
//!    whenever `bytes(x) + bytes(y)` is a token, whatever that token's canonical split; we only
//!    look up canonical splits, a smaller map. Same answer: the earliest state (in time) where
//!    a cross merge qualifies is a merge BPE really performs, and a performed merge is the
//!    canonical split of the token it forms (point 2); later states cannot qualify without it.
//! 4. **Compatible everywhere means BPE.** If tokens `t1..tk` spell `s` and every adjacent pair is
//!    compatible, `BPE(s) == t1..tk`: take the first merge of `BPE(s)` that crosses a boundary
//!    between some `ti` and `ti+1`; before it, both sides were in the states of their own runs,
//!    and since merges go in rank order the same cross merge would happen in
//!    `BPE(bytes(ti) + bytes(ti+1))`, contradicting compatibility. With no cross merge, each `ti`
//!    is built as alone, which gives `ti`. Conversely every adjacent pair of `BPE(s)` is compatible
//!    (the merges inside two adjacent output tokens, and the absent cross merge, are the same in
//!    the two-token run). So the encoding of `s` with all pairs compatible exists and is unique,
//!    and so is that of every prefix of `s` ending on a token boundary of it.
//! 5. **Search.** From position `p`, with `last` the token before `p`, try the longest reachable
//!    token that is a prefix of the rest, then the next shorter one (`next_prefix`), keeping the
//!    first compatible with `last`; if none fits, step back (pop `last`) and try the next shorter
//!    token in its place. By point 4 the tokens before `p` are always `BPE(s[..p])`, whatever
//!    path led there, so a position from which we once had to step back will fail again: it is
//!    marked dead in a bitfield and no token ending there is tried again. The search therefore
//!    finds the unique all-compatible encoding, which is `BPE(s)`.
//! 6. **Linear.** A pop happens only from a position that is then marked dead, and the token
//!    popped is the one ending there, so no token ever ends at that position again: each position
//!    is reached by a push at most once for good, and the candidates tried from it (resumed, not
//!    restarted, after a pop back to it) are its prefix tokens, each at most once. The work is
//!    therefore at most `n` times (longest token length) trie steps and `compatible` calls, and a
//!    `compatible` call walks at most the depth of two split trees: O(n) for a fixed vocabulary.
//!    (The heap is O(n log n), and its state is touched in random order.)
//!
//! # Performance decisions, and why
//!
//! * **Only for long pieces** (`BACKTRACK_PIECE` in `bpe.rs`, 4 KB; why not lower is explained
//!   there). Measured on one core, ns/byte on one random piece repeated (heap / backtracking):
//!   letters 30/14 at 4 KB and 180/30 at 1 MB, punctuation 17/9 and 100/22, CJK 7.2/6.6 and
//!   35/11. The growth that remains from 4 KB to 64 KB is not the algorithm: a short piece
//!   repeated keeps the few thousand table entries it touches in L1/L2, a long one touches most
//!   of the vocabulary's tables; from 64 KB to 1 MB the cost per byte is flat.
//! * **Built lazily, once per vocabulary.** The tables take about 7 MB for cl100k (o200k twice
//!   that) and 40-90 ms to build: about 40 for the embedded ranks, whose canonical splits ship
//!   precomputed (`ranks::CL100K_BASE_SPLITS`), and 20-25 more for any other file, where BPE
//!   runs on each of the 100k tokens to find them (`Vocab::last_merge`). Most tokenizers never
//!   see a piece long enough to need the tables, so `Vocab` builds them on first use, in a
//!   `OnceLock` (thread-safe, built once).
//! * **A trie with children stored contiguously.** Nodes are numbered breadth first, so the
//!   children of a node are consecutive nodes and one node is 12 bytes: first child, child
//!   count, token. The labels of one node's children sit side by side in `labels` and are scanned
//!   linearly (few children) or binary searched. The root's 256 children are a dense table. No
//!   dependency (aho-corasick) is needed for a single anchored longest match.
//! * **Canonical pairs only, behind a bit filter.** `compatible` runs for every candidate token
//!   and looks up one pair per level of the two split trees it walks down. The map of canonical
//!   splits (one entry per token) is much smaller than `Vocab`'s map of every split of every
//!   token, and a 256 KiB bitset, which stays in L2, answers most pairs that are not splits
//!   without touching the map at all. The bitset took 23-29% off at 1 MB.
//! * **Two-byte dense table at the root of the trie** (256 KiB, like `Vocab::byte_pairs`): the
//!   first two levels have the widest nodes (every letter follows every letter), where a search
//!   costs most. With the smaller pair map, it took 4 KB of letters from 20 to 13 ns/byte.
//! * **Per-token metadata in one 16-byte record** (length, next shorter prefix, split): the
//!   backtracking loop reads all of it for a candidate, so one cache line instead of four arrays.
//! * **The dead-end bitfield** is one bit per byte, so even a megabyte piece needs 16 KB; the output
//!   vector itself is the stack of chosen tokens.

use std::fmt;

use rustc_hash::FxHashMap;

use crate::bpe::{MergeScratch, Vocab};

const NONE: u32 = u32::MAX;

/// log2 of the number of bits of `Backtrack::pair_filter` (2 Mi bits for about 100k splits:
/// about 5% of non-splits pass the filter).
const PAIR_FILTER_BITS: u32 = 21;

#[inline(always)]
fn pair_key(left: u32, right: u32) -> u64 {
    (left as u64) << 32 | right as u64
}

/// A bit of the pair filter: the top bits of a multiplicative hash of the pair.
#[inline(always)]
fn pair_slot(left: u32, right: u32) -> usize {
    (pair_key(left, right).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PAIR_FILTER_BITS)) as usize
}

/// What the search needs of one token id.
#[derive(Clone, Copy)]
struct TokenMeta {
    /// Byte length (0 for unused or unreachable ids).
    len: u32,
    /// The longest reachable token that is a proper prefix of this one, or NONE.
    next_prefix: u32,
    /// Canonical split (see the module comment); NONE for single bytes.
    left: u32,
    right: u32,
}

/// The tables of the backtracking encoder for one vocabulary.
pub(crate) struct Backtrack {
    meta: Vec<TokenMeta>,
    /// Canonical split `(left << 32 | right)` to the token it forms; see `compatible`.
    pairs: FxHashMap<u64, u32>,
    /// One bit per `pair_slot`, set if some canonical split hashes there: this 256 KiB bitset
    /// (which stays in L2) answers most pairs that are not splits without a probe of the
    /// multi-megabyte map.
    pair_filter: Box<[u64]>,
    /// Trie node of each first byte (always present: every byte is a token).
    root: [u32; 256],
    /// `root2[a << 8 | b]`: trie node of the two bytes `[a, b]`, or NONE.
    root2: Box<[u32]>,
    /// Breadth-first trie: node `i`'s children are nodes `first_child[i] .. + child_count[i]`,
    /// whose incoming bytes are `labels[..]` at the same indexes, in increasing order.
    nodes: Vec<TrieNode>,
    labels: Vec<u8>,
}

#[derive(Clone, Copy)]
struct TrieNode {
    first_child: u32,
    child_count: u32,
    /// The reachable token spelled by the path to this node, or NONE.
    token: u32,
}

impl fmt::Debug for Backtrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backtrack")
            .field("ids", &self.meta.len())
            .field("trie_nodes", &self.nodes.len())
            .finish()
    }
}

impl Backtrack {
    /// The tables for `vocab`, or None if its merges do not happen in rank order (point 2 of the
    /// module comment), in which case the caller keeps the heap.
    pub(crate) fn new(vocab: &Vocab) -> Option<Backtrack> {
        let ids = vocab.id_limit();
        let empty = TokenMeta {
            len: 0,
            next_prefix: NONE,
            left: NONE,
            right: NONE,
        };
        let mut meta = vec![empty; ids];
        let mut reachable = vec![false; ids];
        let mut scratch = MergeScratch::default();
        for id in 0..ids as u32 {
            let Some(bytes) = vocab.bytes_of(id) else {
                continue;
            };
            if bytes.len() == 1 {
                reachable[id as usize] = true;
                meta[id as usize].len = 1;
                continue;
            }
            let split = match vocab.canonical_split(id) {
                Some(0) => None,
                Some(at) => vocab.id_of(&bytes[..at]).zip(vocab.id_of(&bytes[at..])),
                None => vocab.last_merge(bytes, id, &mut scratch),
            };
            if let Some((left, right)) = split {
                reachable[id as usize] = true;
                let m = &mut meta[id as usize];
                m.len = bytes.len() as u32;
                m.left = left;
                m.right = right;
            }
        }
        // Point 2: every merge forms a token of higher rank than the merged tokens.
        for id in 0..ids {
            let m = meta[id];
            if m.left == NONE {
                continue;
            }
            for child in [m.left, m.right] {
                let c = meta[child as usize];
                if !reachable[child as usize] || (c.left != NONE && child as usize >= id) {
                    return None;
                }
            }
        }

        // The trie of reachable tokens, first as lists of (byte, child), then breadth first.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut node_token: Vec<u32> = vec![NONE];
        for id in 0..ids as u32 {
            if !reachable[id as usize] {
                continue;
            }
            let bytes = vocab.bytes_of(id).expect("reachable ids have bytes");
            let mut node = 0usize;
            for &b in bytes {
                node = match children[node].iter().find(|&&(c, _)| c == b) {
                    Some(&(_, next)) => next as usize,
                    None => {
                        let next = children.len();
                        children[node].push((b, next as u32));
                        children.push(Vec::new());
                        node_token.push(NONE);
                        next
                    }
                };
            }
            node_token[node] = id;
        }
        // Renumber breadth first so that siblings are consecutive.
        let mut order = vec![0u32]; // new number -> old node
        let mut nodes = Vec::with_capacity(children.len());
        let mut labels = vec![0u8];
        let mut next = 0;
        while next < order.len() {
            let old = order[next] as usize;
            let mut kids = std::mem::take(&mut children[old]);
            kids.sort_unstable();
            nodes.push(TrieNode {
                first_child: order.len() as u32,
                child_count: kids.len() as u32,
                token: node_token[old],
            });
            for (b, child) in kids {
                order.push(child);
                labels.push(b);
            }
            next += 1;
        }
        let mut root = [NONE; 256];
        let mut root2 = vec![NONE; 1 << 16].into_boxed_slice();
        let r = nodes[0];
        for i in r.first_child..r.first_child + r.child_count {
            let a = labels[i as usize] as usize;
            root[a] = i;
            let n = nodes[i as usize];
            for j in n.first_child..n.first_child + n.child_count {
                root2[a << 8 | labels[j as usize] as usize] = j;
            }
        }
        let mut pairs = FxHashMap::default();
        pairs.reserve(ids);
        let mut pair_filter = vec![0u64; 1 << (PAIR_FILTER_BITS - 6)].into_boxed_slice();
        for (id, m) in meta.iter().enumerate() {
            if m.left != NONE {
                pairs.insert(pair_key(m.left, m.right), id as u32);
                let slot = pair_slot(m.left, m.right);
                pair_filter[slot / 64] |= 1 << (slot % 64);
            }
        }
        let mut backtrack = Backtrack {
            meta,
            pairs,
            pair_filter,
            root,
            root2,
            nodes,
            labels,
        };
        // next_prefix: the last reachable token met on the way down to a token's own node.
        for id in 0..ids as u32 {
            if !reachable[id as usize] {
                continue;
            }
            let bytes = vocab.bytes_of(id).expect("reachable ids have bytes");
            let mut node = backtrack.root[bytes[0] as usize];
            let mut shorter = NONE;
            for &b in &bytes[1..] {
                let t = backtrack.nodes[node as usize].token;
                if t != NONE {
                    shorter = t;
                }
                node = backtrack.child(node, b);
            }
            debug_assert_eq!(backtrack.nodes[node as usize].token, id);
            backtrack.meta[id as usize].next_prefix = shorter;
        }
        Some(backtrack)
    }

    /// The child of `node` along byte `b`, or NONE.
    #[inline(always)]
    fn child(&self, node: u32, b: u8) -> u32 {
        let n = self.nodes[node as usize];
        let start = n.first_child as usize;
        let labels = &self.labels[start..start + n.child_count as usize];
        let found = if labels.len() <= 8 {
            labels.iter().position(|&c| c == b)
        } else {
            labels.binary_search(&b).ok()
        };
        found.map_or(NONE, |i| (start + i) as u32)
    }

    /// The longest reachable token that is a prefix of `text` (not empty).
    #[inline]
    fn longest_prefix(&self, text: &[u8]) -> u32 {
        let first = self.root[text[0] as usize];
        let best = self.nodes[first as usize].token;
        if text.len() < 2 {
            return best;
        }
        let mut node = self.root2[(text[0] as usize) << 8 | text[1] as usize];
        if node == NONE {
            return best;
        }
        let mut best = match self.nodes[node as usize].token {
            NONE => best,
            t => t,
        };
        for &b in &text[2..] {
            node = self.child(node, b);
            if node == NONE {
                break;
            }
            let t = self.nodes[node as usize].token;
            if t != NONE {
                best = t;
            }
        }
        best
    }

    /// The token whose canonical split is `(a, b)`, or NONE.
    #[inline(always)]
    fn merged(&self, a: u32, b: u32) -> u32 {
        let slot = pair_slot(a, b);
        if self.pair_filter[slot / 64] & (1 << (slot % 64)) == 0 {
            return NONE;
        }
        *self.pairs.get(&pair_key(a, b)).unwrap_or(&NONE)
    }

    /// Whether BPE of `bytes(a) + bytes(b)` is `[a, b]` (point 3 of the module comment).
    #[inline]
    fn compatible(&self, mut a: u32, mut b: u32) -> bool {
        // A cross merge of rank below `limit` would have happened.
        let mut limit = u32::MAX;
        loop {
            if self.merged(a, b) < limit {
                return false;
            }
            let (ma, mb) = (self.meta[a as usize], self.meta[b as usize]);
            if ma.left != NONE && (mb.left == NONE || a > b) {
                // `a` was formed last (on equal ranks the right one is formed last).
                limit = a;
                a = ma.right;
            } else if mb.left != NONE {
                limit = b + 1;
                b = mb.left;
            } else {
                return true;
            }
        }
    }

    /// Appends BPE of `piece` to `out`. Returns false, leaving `out` as it was, if the search
    /// fails, which the module comment shows cannot happen; the caller then uses the heap.
    pub(crate) fn encode(&self, piece: &[u8], out: &mut Vec<u32>) -> bool {
        let n = piece.len();
        let base = out.len();
        // dead[p]: no encoding of the rest starts at p (see point 5).
        let mut dead = vec![0u64; n / 64 + 1];
        let mut pos = 0;
        let mut candidate = self.longest_prefix(piece);
        while pos < n {
            let last = if out.len() > base {
                out[out.len() - 1]
            } else {
                NONE
            };
            let mut token = candidate;
            loop {
                if token == NONE {
                    // Nothing fits after `last`: `pos` is a dead end. Undo `last` and try the next
                    // shorter token in its place.
                    dead[pos / 64] |= 1 << (pos % 64);
                    if out.len() == base {
                        return false;
                    }
                    let prev = out.pop().expect("not empty");
                    pos -= self.meta[prev as usize].len as usize;
                    candidate = self.meta[prev as usize].next_prefix;
                    break;
                }
                let m = self.meta[token as usize];
                let end = pos + m.len as usize;
                if dead[end / 64] & (1 << (end % 64)) == 0
                    && (last == NONE || self.compatible(last, token))
                {
                    out.push(token);
                    pos = end;
                    if pos < n {
                        candidate = self.longest_prefix(&piece[pos..]);
                    }
                    break;
                }
                token = m.next_prefix;
            }
        }
        true
    }
}

/// For every id of `vocab`, the byte offset of its canonical split (point 1 of the module comment):
/// the length of the left part of its last merge, or 0 for single bytes, unused ids and
/// unreachable tokens. Offsets fit a byte because no tiktoken vocabulary has tokens near 256 bytes;
/// longer ones are left out (0), which only costs them the pair-table shortcut (`Vocab::new`
/// then keeps every split; see `ranks::CL100K_BASE_SPLITS` for the embedded table). Only the
/// tests need it: they write and check that table.
#[cfg(test)]
pub(crate) fn canonical_splits(vocab: &Vocab) -> Vec<u8> {
    let mut scratch = MergeScratch::default();
    (0..vocab.id_limit() as u32)
        .map(|id| {
            let Some(bytes) = vocab.bytes_of(id).filter(|b| b.len() > 1) else {
                return 0;
            };
            vocab
                .last_merge(bytes, id, &mut scratch)
                .and_then(|(left, _)| vocab.bytes_of(left))
                .and_then(|left| u8::try_from(left.len()).ok())
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rustc_hash::FxHashMap;

    use crate::Tokenizer;

    /// Deterministic bytes: `len` draws from `alphabet` (strings, so that multi-byte characters
    /// stay whole) by xorshift.
    fn random_piece(alphabet: &[&str], len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(alphabet[(state % alphabet.len() as u64) as usize].as_bytes());
        }
        out
    }

    fn alphabets() -> Vec<(&'static str, Vec<String>)> {
        let chars = |s: &str| s.chars().map(String::from).collect::<Vec<_>>();
        vec![
            ("ab", chars("ab")),
            ("abc", chars("abc")),
            ("a-z", chars("abcdefghijklmnopqrstuvwxyz")),
            ("aeiou-nst", chars("aeiounst")),
            ("punct", chars("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~")),
            ("=-", chars("=-")),
            ("digits+space", chars("0123456789 ")),
            ("space-nl", chars(" \n")),
            (
                "syllables",
                [
                    "th", "e", "in", "g", "er", "an", "on", "s", "t", "re", "ation", "ing",
                ]
                .map(String::from)
                .to_vec(),
            ),
            (
                "cjk",
                ('\u{4e00}'..='\u{9fff}')
                    .step_by(7)
                    .map(String::from)
                    .collect(),
            ),
            ("cjk-few", chars("的一是不了人我在有他这中大来上")),
            (
                "hangul",
                ('\u{ac00}'..='\u{ac40}').map(String::from).collect(),
            ),
            ("mixed-bytes", chars("aé€😀 \t.1")),
        ]
    }

    /// Every byte value, not just UTF-8.
    fn random_bytes(len: usize, seed: u64, modulo: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % modulo) as u8 ^ 0x61
            })
            .collect()
    }

    fn samples() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (name, alphabet) in alphabets() {
            let alphabet: Vec<&str> = alphabet.iter().map(String::as_str).collect();
            for (seed, len) in [(1, 1), (2, 2), (3, 3), (4, 7), (5, 30), (6, 200), (7, 3000)] {
                for s in 0..4u64 {
                    let piece = random_piece(&alphabet, len, seed * 1000 + s);
                    out.push((format!("{name}/{len}/{s}"), piece));
                }
            }
        }
        for (seed, modulo) in [(11, 256), (12, 4), (13, 40)] {
            for len in [1, 2, 5, 64, 2500] {
                out.push((
                    format!("bytes%{modulo}/{len}"),
                    random_bytes(len, seed, modulo),
                ));
            }
        }
        // Real text with its split points removed: long runs of real subwords.
        let en = "The quick brown fox jumps over the lazy dog; tokenization of natural language \
                  text into subword units is the first step of every language model pipeline.";
        let zh = "自然语言处理是计算机科学领域与人工智能领域中的一个重要方向它研究能实现人与计算机之间用自然语言进行有效通信的各种理论和方法";
        for (name, text) in [("en", en), ("zh", zh)] {
            let joined: String = text.chars().filter(|c| c.is_alphanumeric()).collect();
            out.push((format!("{name}-joined"), joined.repeat(40).into_bytes()));
            out.push((format!("{name}-lower"), joined.to_lowercase().into_bytes()));
            out.push((format!("{name}-as-is"), text.repeat(20).into_bytes()));
        }
        out
    }

    /// The tiktoken-format files shipped in the tiktoken-rs crate (o200k_base, and the GPT-2
    /// family r50k/p50k, whose vocabularies were not trained like cl100k's), if found.
    fn registry_vocabularies() -> Vec<(String, Tokenizer)> {
        let home = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
        let mut out = Vec::new();
        let Some(Ok(indexes)) = home.map(|h| std::fs::read_dir(h.join("registry/src"))) else {
            return out;
        };
        for index in indexes.flatten() {
            let Ok(crates) = std::fs::read_dir(index.path()) else {
                continue;
            };
            for krate in crates.flatten() {
                if !krate
                    .file_name()
                    .to_string_lossy()
                    .starts_with("tiktoken-rs-0.12")
                {
                    continue;
                }
                for name in ["o200k_base", "r50k_base", "p50k_base"] {
                    let path = krate.path().join(format!("assets/{name}.tiktoken"));
                    if let Ok(bytes) = std::fs::read(&path) {
                        let tok =
                            Tokenizer::from_tiktoken(name, &bytes, crate::CL100K_BASE_PATTERN, [])
                                .expect("loads");
                        out.push((name.to_string(), tok));
                    }
                }
                return out;
            }
        }
        out
    }

    #[test]
    fn other_vocabularies_are_served_exactly_or_not_at_all() {
        let vocabularies = registry_vocabularies();
        if vocabularies.is_empty() {
            eprintln!("NOTICE: tiktoken-rs 0.12 assets not found; skipped");
        }
        for (name, tok) in vocabularies {
            let vocab = &tok.inner.vocab;
            let Some(bt) = vocab.backtrack() else {
                eprintln!("{name}: merges not in rank order, the heap serves long pieces");
                assert_ne!(name, "o200k_base", "o200k_base merges in rank order");
                continue;
            };
            let reachable = bt.meta.iter().filter(|m| m.len > 0).count();
            eprintln!("{name}: {reachable} of {} tokens reachable", vocab.len());
            for (sample, piece) in samples() {
                let mut ours = Vec::new();
                assert!(
                    bt.encode(&piece, &mut ours),
                    "{name} {sample}: search failed"
                );
                if piece.len() >= 2 {
                    assert_eq!(ours, vocab.merge_with_heap(&piece), "{name} {sample}");
                }
            }
        }
    }

    /// A vocabulary of the 256 bytes (ranks 0..256) and `extra` tokens.
    fn tiny_vocabulary(extra: &[(&str, u32)]) -> Tokenizer {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut file = String::new();
        for b in 0..=255u8 {
            file += &format!("{} {b}\n", b64(&[b]));
        }
        for (token, rank) in extra {
            file += &format!("{} {rank}\n", b64(token.as_bytes()));
        }
        Tokenizer::from_tiktoken("tiny", file.as_bytes(), crate::CL100K_BASE_PATTERN, [])
            .expect("tiny vocabulary loads")
    }

    #[test]
    fn unreachable_tokens_are_never_matched() {
        // "abcd" is a token, but BPE on its bytes stops at [a, bc, d]: it is never produced.
        let tok = tiny_vocabulary(&[
            ("bc", 256),
            ("ab", 257),
            ("cd", 258),
            ("abcd", 259),
            ("da", 260),
            ("dab", 262),
            ("aa", 263),
            ("aaa", 264),
            ("aaaa", 265),
        ]);
        let vocab = &tok.inner.vocab;
        let bt = vocab.backtrack().expect("merges in rank order");
        assert_eq!(bt.meta[259].len, 0, "abcd is unreachable");
        let dab = bt.meta[262];
        assert_eq!((dab.left, dab.right), (b'd' as u32, 257), "dab = d + ab");
        for (seed, alphabet) in [(1, ["a", "b", "c", "d"]), (2, ["abcd", "a", "bc", "d"])] {
            for len in [2, 3, 4, 5, 9, 17, 100, 1000, 5000] {
                let piece = random_piece(&alphabet, len, seed * 100 + len as u64);
                let mut ours = Vec::new();
                assert!(bt.encode(&piece, &mut ours));
                assert_eq!(ours, vocab.merge_with_heap(&piece), "{piece:?}");
            }
        }
    }

    #[test]
    fn a_vocabulary_merging_out_of_rank_order_keeps_the_heap() {
        // BPE("abc") merges "ab" (rank 257) and then "abc" (rank 256): ranks are not times.
        let tok = tiny_vocabulary(&[("abc", 256), ("ab", 257)]);
        assert!(tok.inner.vocab.backtrack().is_none());
        let text = "abc".repeat(3000) + "ab";
        let ids = tok.encode_ordinary(&text);
        assert_eq!(ids.len(), 3001);
        assert!(ids[..3000].iter().all(|&id| id == 256) && ids[3000] == 257);
    }

    /// Many small random vocabularies over "abc": each that passes the rank-order check must give
    /// the heap's result on random pieces. Half are grown like trained BPE (each token joins two
    /// earlier ones), half are random strings in random order.
    #[test]
    fn random_small_vocabularies_agree_with_the_heap() {
        let mut state = 0x1234_5678_9abc_def1_u64;
        let mut rand = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut served, mut refused) = (0, 0);
        for round in 0..300 {
            let mut tokens: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
            let extra = 5 + rand(40);
            let mut tries = 0;
            while tokens.len() < 3 + extra && tries < 1000 {
                tries += 1;
                let t = if round % 2 == 0 {
                    format!(
                        "{}{}",
                        tokens[rand(tokens.len())],
                        tokens[rand(tokens.len())]
                    )
                } else {
                    (0..2 + rand(4)).map(|_| ["a", "b", "c"][rand(3)]).collect()
                };
                if t.len() <= 8 && !tokens.contains(&t) {
                    tokens.push(t);
                }
            }
            let extra: Vec<(&str, u32)> = tokens[3..]
                .iter()
                .zip(256..)
                .map(|(t, r)| (t.as_str(), r))
                .collect();
            let tok = tiny_vocabulary(&extra);
            let vocab = &tok.inner.vocab;
            let Some(bt) = vocab.backtrack() else {
                refused += 1;
                continue;
            };
            served += 1;
            for _ in 0..20 {
                let len = 2 + rand(300);
                let piece: Vec<u8> = (0..len).map(|_| b"abc"[rand(3)]).collect();
                let mut ours = Vec::new();
                assert!(bt.encode(&piece, &mut ours), "round {round}: search failed");
                assert_eq!(
                    ours,
                    vocab.merge_with_heap(&piece),
                    "round {round}, vocabulary {extra:?}, piece {:?}",
                    String::from_utf8_lossy(&piece)
                );
            }
        }
        eprintln!("{served} vocabularies served, {refused} refused");
        assert!(served > 100, "{served} served, {refused} refused");
    }

    #[test]
    fn tables_build_for_the_builtin_vocabulary() {
        let tok = Tokenizer::cl100k_base();
        let vocab = &tok.inner.vocab;
        let bt = vocab.backtrack().expect("cl100k_base merges in rank order");
        let reachable = bt.meta.iter().filter(|m| m.len > 0).count();
        // All but a few dozen cl100k tokens are reachable.
        assert!(
            reachable > vocab.len() - 1000,
            "{reachable} of {}",
            vocab.len()
        );
        assert!(reachable <= vocab.len());
    }

    #[test]
    fn matches_the_heap_and_tiktoken_on_pieces_of_any_length() {
        let tok = Tokenizer::cl100k_base();
        let vocab = &tok.inner.vocab;
        let bt = vocab.backtrack().expect("cl100k_base merges in rank order");
        let ranks: FxHashMap<Vec<u8>, u32> = (0..vocab.id_limit() as u32)
            .filter_map(|id| Some((vocab.bytes_of(id)?.to_vec(), id)))
            .collect();
        for (name, piece) in samples() {
            let mut ours = Vec::new();
            assert!(bt.encode(&piece, &mut ours), "{name}: search failed");
            if piece.len() >= 2 {
                assert_eq!(
                    ours,
                    vocab.merge_with_heap(&piece),
                    "{name}: differs from the heap"
                );
                let reference: Vec<u32> = tiktoken_rs::byte_pair_split(&piece, &ranks)
                    .iter()
                    .map(|part| ranks[*part])
                    .collect();
                assert_eq!(ours, reference, "{name}: differs from tiktoken-rs");
            } else {
                assert_eq!(ours, [vocab.id_of(&piece).expect("bytes are tokens")]);
            }
        }
    }

    #[test]
    fn every_reachable_token_encodes_to_itself_and_pairs_agree_with_bpe() {
        let tok = Tokenizer::cl100k_base();
        let vocab = &tok.inner.vocab;
        let bt = vocab.backtrack().expect("cl100k_base merges in rank order");
        let mut piece = Vec::new();
        let mut mismatches = 0;
        for id in (0..vocab.id_limit() as u32).step_by(7) {
            let Some(bytes) = vocab.bytes_of(id) else {
                continue;
            };
            let reachable = bt.meta[id as usize].len > 0;
            let mut out = Vec::new();
            assert!(bt.encode(bytes, &mut out));
            if bytes.len() >= 2 {
                let heap = vocab.merge_with_heap(bytes);
                assert_eq!(out, heap, "token {id}");
                assert_eq!(reachable, heap == [id], "token {id}");
            }
            // `compatible` against BPE of the concatenation, on pairs of neighbouring ids.
            let next = (id * 31 + 17) % vocab.id_limit() as u32;
            let Some(other) = vocab.bytes_of(next) else {
                continue;
            };
            if !reachable || bt.meta[next as usize].len == 0 {
                continue;
            }
            piece.clear();
            piece.extend_from_slice(bytes);
            piece.extend_from_slice(other);
            let expected = vocab.merge_with_heap(&piece) == [id, next];
            if bt.compatible(id, next) != expected {
                mismatches += 1;
            }
        }
        assert_eq!(mismatches, 0);
    }
}

/// `cargo test --release -p arcade-tokenizer --lib crossover -- --ignored --nocapture`: ns/byte of
/// the heap and of backtracking by piece length, to place `BACKTRACK_PIECE`.
#[cfg(test)]
#[test]
#[ignore]
fn crossover() {
    let tok = crate::Tokenizer::arcade100k();
    let vocab = &tok.inner.vocab;
    let bt = vocab.backtrack().expect("tables");
    let kinds: [(&str, Vec<char>); 4] = [
        ("letters", ('a'..='z').collect()),
        (
            "punct",
            "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~".chars().collect(),
        ),
        ("cjk", ('\u{4e00}'..='\u{9fff}').collect()),
        ("spaces", vec![' ']),
    ];
    for (name, alphabet) in kinds {
        for len in [64, 256, 1024, 4096, 16384, 65536, 1 << 20] {
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let mut s = String::new();
            while s.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let piece = s.as_bytes();
            let reps = (4_000_000 / len).max(3);
            let time = |f: &mut dyn FnMut()| {
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let t = std::time::Instant::now();
                    for _ in 0..reps {
                        f();
                    }
                    best = best.min(t.elapsed().as_nanos() as f64 / (reps * piece.len()) as f64);
                }
                best
            };
            let mut out = Vec::new();
            let heap = time(&mut || {
                std::hint::black_box(vocab.merge_with_heap(piece));
            });
            let back = time(&mut || {
                out.clear();
                bt.encode(piece, &mut out);
                std::hint::black_box(&out);
            });
            println!("{name:8} {len:8}  heap {heap:7.1}  backtrack {back:7.1} ns/byte");
            if len == 1 << 20 {
                // The same megabyte as 105 distinct 10 KB pieces, each encoded once per pass:
                // without repetition, does 10 KB cost as much per byte as 1 MB?
                let back = time(&mut || {
                    for chunk in piece.chunks(10_000) {
                        out.clear();
                        bt.encode(chunk, &mut out);
                        std::hint::black_box(&out);
                    }
                });
                println!("{name:8} 1 MB as distinct 10 KB pieces: backtrack {back:7.1} ns/byte");
            }
        }
    }
}

#[cfg(test)]
#[test]
#[ignore]
fn build_time() {
    let tok = crate::Tokenizer::cl100k_base();
    let t = std::time::Instant::now();
    let bt = Backtrack::new(&tok.inner.vocab).expect("tables");
    println!("build {:?}: {bt:?}, pairs {}", t.elapsed(), bt.pairs.len());
}

/// Writes `canonical_splits` of the cl100k_base ranks to `$ARCADE_WRITE_SPLITS` (see
/// `ranks::CL100K_BASE_SPLITS`).
#[cfg(test)]
#[test]
#[ignore]
fn write_canonical_splits() {
    let path =
        std::env::var("ARCADE_WRITE_SPLITS").expect("set ARCADE_WRITE_SPLITS to the output path");
    let ranks = crate::ranks::parse(crate::ranks::CL100K_BASE).unwrap();
    let vocab = Vocab::new(ranks, None).unwrap();
    std::fs::write(&path, canonical_splits(&vocab)).unwrap();
}

#[cfg(test)]
#[test]
fn embedded_canonical_splits_are_those_of_the_embedded_ranks() {
    // Recomputed with the pair table of every split, independent of the embedded file.
    let ranks = crate::ranks::parse(crate::ranks::CL100K_BASE).unwrap();
    let vocab = Vocab::new(ranks, None).unwrap();
    let splits = canonical_splits(&vocab);
    assert_eq!(splits.len(), 100_256);
    // Every token of cl100k but the 256 single bytes is reachable, so only those are 0.
    assert_eq!(splits.iter().filter(|&&k| k == 0).count(), 256);
    assert!(
        splits == crate::ranks::CL100K_BASE_SPLITS,
        "tokenizer/assets/cl100k_base.splits is stale: regenerate it (see ranks::CL100K_BASE_SPLITS)"
    );
}
