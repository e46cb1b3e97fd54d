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
//! * **Where it is faster than the merge loops**: pieces in scripts past the Latin blocks, and
//!   any piece of 32 bytes or more. For a ranks file given at run time, only pieces from 4 KB
//!   until 8 MiB of such pieces have been merged (why is explained in `bpe.rs`). Measured on
//!   one core, ns/byte on one random piece repeated (heap / backtracking): letters 30/14 at
//!   4 KB and 180/30 at 1 MB, punctuation 17/9 and 100/22, CJK 7.2/6.6 and 35/11. The growth
//!   that remains from 4 KB to 64 KB is not the algorithm: a short piece repeated keeps the few
//!   thousand table entries it touches in L1/L2, a long one touches most of the vocabulary's
//!   tables; from 64 KB to 1 MB the cost per byte is flat.
//! * **Built at compile time for the embedded ranks** (`build.rs`, with the same code as at run
//!   time: `backtrack_tables.rs`). The tables take about 7 MB for cl100k (o200k twice that);
//!   included in the binary as little-endian records, they cost no time at start-up, and the
//!   operating system pages in only what a text touches. For any other ranks file `Vocab` builds
//!   them on first use, in a `OnceLock` (thread-safe, built once): 12 ms for cl100k's tokens,
//!   plus 20-25 ms to find the canonical splits by running BPE on each token
//!   (`Vocab::last_merge`).
//! * **A trie built in sorted order.** Sorting the tokens by their bytes puts the nodes of each
//!   depth in breadth-first order, so each node is created once, in place (`Tables::build`);
//!   inserting the tokens one by one into lists of children, then renumbering, took 60 ms.
//! * **A trie with children stored contiguously.** Nodes are numbered breadth first, so the
//!   children of a node are consecutive nodes and one node is 12 bytes: first child, child
//!   count, token. The labels of one node's children sit side by side in `labels` and are scanned
//!   linearly (few children) or binary searched. The root's 256 children are a dense table. No
//!   dependency (aho-corasick) is needed for a single anchored longest match.
//! * **Canonical pairs, behind a bit filter.** `compatible` runs for every candidate token and
//!   looks up one pair per level of the two split trees it walks down. A 256 KiB bitset of the
//!   canonical splits, which stays in L2, answers most pairs that are not splits without touching
//!   `Vocab`'s pair map at all (it took 23-29% off at 1 MB). That map holds only the canonical
//!   splits for the embedded ranks, every split for other files: point 3 makes either answer,
//!   or any mix of them, right, so the encoder keeps no map of its own.
//! * **Two-byte dense table at the root of the trie** (256 KiB, like `Vocab::byte_pairs`): the
//!   first two levels have the widest nodes (every letter follows every letter), where a search
//!   costs most. With the smaller pair map, it took 4 KB of letters from 20 to 13 ns/byte.
//! * **Per-token metadata in one 16-byte record** (length, next shorter prefix, split): the
//!   backtracking loop reads all of it for a candidate, so one cache line instead of four arrays.
//! * **The dead-end bitfield** is one bit per byte, so even a megabyte piece needs 16 KB; the output
//!   vector itself is the stack of chosen tokens.

use std::borrow::Cow;
use std::fmt;

use crate::backtrack_tables::{pair_slot, token_meta, Tables, TokenMeta, TrieNode, NONE};
use crate::bpe::{MergeScratch, Vocab};

// The embedded tables are the records themselves, as little-endian bytes.
// SAFETY: `repr(C)` structs of `u32` fields only: no padding, and every bit pattern is valid.
unsafe impl bytemuck::Zeroable for TokenMeta {}
unsafe impl bytemuck::Pod for TokenMeta {}
unsafe impl bytemuck::Zeroable for TrieNode {}
unsafe impl bytemuck::Pod for TrieNode {}

/// The tables of the backtracking encoder for one vocabulary: borrowed from the binary for the
/// embedded ranks, built for any other. The pair map is the vocabulary's own (`Vocab::merged`).
pub(crate) struct Backtrack {
    meta: Cow<'static, [TokenMeta]>,
    /// One bit per `pair_slot` of every canonical split: this 256 KiB bitset (which stays in L2)
    /// answers most pairs that are not splits without a probe of the multi-megabyte map.
    pair_filter: Cow<'static, [u64]>,
    /// Trie node of each first byte (always present: every byte is a token).
    root: [u32; 256],
    /// `root2[a << 8 | b]`: trie node of the two bytes `[a, b]`, or NONE.
    root2: Cow<'static, [u32]>,
    /// Breadth-first trie: node `i`'s children are nodes `first_child[i] .. + child_count[i]`,
    /// whose incoming bytes are `labels[..]` at the same indexes, in increasing order.
    nodes: Cow<'static, [TrieNode]>,
    labels: Cow<'static, [u8]>,
}

impl fmt::Debug for Backtrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backtrack")
            .field("ids", &self.meta.len())
            .field("trie_nodes", &self.nodes.len())
            .field("embedded", &matches!(self.nodes, Cow::Borrowed(_)))
            .finish()
    }
}

impl Backtrack {
    /// The tables of the embedded cl100k ranks, as built at compile time (`embedded.rs`):
    /// nothing to compute, and the operating system pages in only the parts a text touches. This
    /// is what makes it worth using backtracking for short pieces (`EMBEDDED_BACKTRACK_PIECE` in
    /// `bpe.rs`); on a big-endian machine `Vocab::embedded` builds them at run time instead.
    #[cfg(target_endian = "little")]
    pub(crate) fn embedded() -> Backtrack {
        use crate::embedded::{LABELS, META, NODES, PAIR_FILTER, ROOT2};
        Backtrack::assemble(
            Cow::Borrowed(bytemuck::cast_slice(&META.bytes)),
            Cow::Borrowed(bytemuck::cast_slice(&PAIR_FILTER.bytes)),
            Cow::Borrowed(bytemuck::cast_slice(&ROOT2.bytes)),
            Cow::Borrowed(bytemuck::cast_slice(&NODES.bytes)),
            Cow::Borrowed(&LABELS.bytes),
        )
    }

    /// Every reachable token's canonical split, as `(left, right, id)`.
    #[cfg(target_endian = "little")]
    pub(crate) fn split_pairs(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        (0..)
            .zip(self.meta.iter())
            .filter(|(_, m)| m.left != NONE)
            .map(|(id, m)| (m.left, m.right, id))
    }

    /// The tables for `vocab`, or None if its merges do not happen in rank order (point 2 of the
    /// module comment), in which case the caller keeps the heap.
    pub(crate) fn new(vocab: &Vocab) -> Option<Backtrack> {
        let t = Backtrack::tables(vocab)?;
        Some(Backtrack::assemble(
            Cow::Owned(t.meta),
            Cow::Owned(t.pair_filter),
            Cow::Owned(t.root2),
            Cow::Owned(t.nodes),
            Cow::Owned(t.labels),
        ))
    }

    /// The owned tables of `vocab` (see `new`).
    pub(crate) fn tables(vocab: &Vocab) -> Option<Tables> {
        let mut scratch = MergeScratch::default();
        let meta = token_meta(
            vocab.id_limit(),
            |id| vocab.bytes_of(id),
            |id, bytes| match vocab.canonical_split(id) {
                Some(0) => None,
                Some(at) => vocab.id_of(&bytes[..at]).zip(vocab.id_of(&bytes[at..])),
                None => vocab.last_merge(bytes, id, &mut scratch),
            },
        );
        Tables::build(meta, |id| {
            vocab.bytes_of(id).expect("reachable ids have bytes")
        })
    }

    /// One past the largest id the tables know.
    #[cfg(target_endian = "little")]
    pub(crate) fn id_limit(&self) -> usize {
        self.meta.len()
    }

    /// The encoder over these tables, with `root` filled in from the trie.
    fn assemble(
        meta: Cow<'static, [TokenMeta]>,
        pair_filter: Cow<'static, [u64]>,
        root2: Cow<'static, [u32]>,
        nodes: Cow<'static, [TrieNode]>,
        labels: Cow<'static, [u8]>,
    ) -> Backtrack {
        let mut root = [NONE; 256];
        let r = nodes[0];
        for i in r.first_child..r.first_child + r.child_count {
            root[labels[i as usize] as usize] = i;
        }
        Backtrack {
            meta,
            pair_filter,
            root,
            root2,
            nodes,
            labels,
        }
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

    /// The token of `a`'s bytes then `b`'s, as far as `compatible` needs it: NONE unless `(a, b)`
    /// passes the filter of canonical splits. `vocab`'s map holds the canonical splits or every
    /// split (for a ranks file given at run time); either answer is right (point 3), and so is
    /// any mixture of them.
    #[inline(always)]
    fn merged(&self, vocab: &Vocab, a: u32, b: u32) -> u32 {
        let slot = pair_slot(a, b);
        if self.pair_filter[slot / 64] & (1 << (slot % 64)) == 0 {
            return NONE;
        }
        vocab.merged(a, b)
    }

    /// Whether BPE of `bytes(a) + bytes(b)` is `[a, b]` (point 3 of the module comment).
    #[inline]
    fn compatible(&self, vocab: &Vocab, mut a: u32, mut b: u32) -> bool {
        // A cross merge of rank below `limit` would have happened.
        let mut limit = u32::MAX;
        loop {
            if self.merged(vocab, a, b) < limit {
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

    /// Appends BPE of `piece` to `out`, for `vocab`, the vocabulary these tables were built from.
    /// Returns false, leaving `out` as it was, if the search fails, which the module comment
    /// shows cannot happen; the caller then uses the heap.
    pub(crate) fn encode(&self, vocab: &Vocab, piece: &[u8], out: &mut Vec<u32>) -> bool {
        let n = piece.len();
        let base = out.len();
        // dead[p]: no encoding of the rest starts at p (see point 5). On the stack for the pieces
        // of real text, which are short: an allocation per piece cost 10-30% below 32 bytes.
        let mut small = [0u64; 4];
        let mut large = Vec::new();
        let dead: &mut [u64] = if n < 256 {
            &mut small
        } else {
            large.resize(n / 64 + 1, 0);
            &mut large
        };
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
                    && (last == NONE || self.compatible(vocab, last, token))
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
                    bt.encode(vocab, &piece, &mut ours),
                    "{name} {sample}: search failed"
                );
                if piece.len() >= 2 {
                    assert_eq!(ours, vocab.merge_with_heap(&piece), "{name} {sample}");
                }
            }
        }
    }

    #[test]
    fn a_vocabulary_built_at_run_time_adopts_backtracking_after_enough_text() {
        // The embedded ranks plus an empty line: the same tokens, but not the embedded file, so
        // the tables are not the compiled-in ones and must be built.
        let mut file = crate::ranks::CL100K_BASE.to_vec();
        file.push(b'\n');
        let tok = Tokenizer::from_tiktoken("copy", &file, crate::CL100K_BASE_PATTERN, []).unwrap();
        let reference = Tokenizer::cl100k_base();
        let vocab = &tok.inner.vocab;
        assert!(!vocab.backtracks_short_pieces() && !vocab.backtrack_built());
        // Clauses of random CJK and Cyrillic letters: distinct pieces, which the piece cache
        // does not answer, so each one goes through `merge_piece`.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut seen_bytes = 0;
        let mut adopted_at = None;
        for doc in 0..400 {
            let mut text = String::new();
            for _ in 0..40 {
                for _ in 0..1 + next(12) {
                    let c = if next(3) == 0 {
                        char::from_u32(0x0430 + next(32) as u32)
                    } else {
                        char::from_u32(0x4E00 + next(0x5000) as u32)
                    };
                    text.push(c.unwrap());
                }
                text.push_str(if next(2) == 0 { "，" } else { " " });
            }
            assert_eq!(
                tok.encode_ordinary(&text),
                reference.encode_ordinary(&text),
                "doc {doc}"
            );
            seen_bytes += text.len();
            if adopted_at.is_none() && vocab.backtracks_short_pieces() {
                adopted_at = Some(seen_bytes);
            }
        }
        let adopted_at = adopted_at.expect("thresholds lowered after enough text");
        assert!(vocab.backtrack_built());
        // Not before the merge loops had taken ADOPT_BACKTRACK_BYTES of such pieces.
        assert!(
            adopted_at as u64 >= crate::bpe::ADOPT_BACKTRACK_BYTES,
            "{adopted_at}"
        );
        assert!(
            seen_bytes > 2 * adopted_at,
            "most of the text was encoded after the switch"
        );

        // Tables built for a piece of 4 KB are used for short pieces from the next one on.
        file.push(b'\n');
        let tok = Tokenizer::from_tiktoken("copy2", &file, crate::CL100K_BASE_PATTERN, []).unwrap();
        let vocab = &tok.inner.vocab;
        let long = "abcdefghijklmnopqrstuvwxyz".repeat(200);
        assert!(!vocab.backtrack_built());
        assert_eq!(tok.encode_ordinary(&long), reference.encode_ordinary(&long));
        assert!(vocab.backtrack_built() && !vocab.backtracks_short_pieces());
        assert_eq!(
            tok.encode_ordinary("旅行者"),
            reference.encode_ordinary("旅行者")
        );
        assert!(vocab.backtracks_short_pieces());
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
                assert!(bt.encode(vocab, &piece, &mut ours));
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
                assert!(
                    bt.encode(vocab, &piece, &mut ours),
                    "round {round}: search failed"
                );
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
            assert!(bt.encode(vocab, &piece, &mut ours), "{name}: search failed");
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
            assert!(bt.encode(vocab, bytes, &mut out));
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
            if bt.compatible(vocab, id, next) != expected {
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
                bt.encode(vocab, piece, &mut out);
                std::hint::black_box(&out);
            });
            println!("{name:8} {len:8}  heap {heap:7.1}  backtrack {back:7.1} ns/byte");
            if len == 1 << 20 {
                // The same megabyte as 105 distinct 10 KB pieces, each encoded once per pass:
                // without repetition, does 10 KB cost as much per byte as 1 MB?
                let back = time(&mut || {
                    for chunk in piece.chunks(10_000) {
                        out.clear();
                        bt.encode(vocab, chunk, &mut out);
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
    println!("build {:?}: {bt:?}", t.elapsed());
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

#[cfg(test)]
#[test]
fn embedded_tables_are_those_built_at_run_time() {
    // Built here from the canonical splits found by BPE on every token (not from the splits file
    // build.rs reads), and from a vocabulary whose pair map holds every split.
    let ranks = crate::ranks::parse(crate::ranks::CL100K_BASE).unwrap();
    let vocab = Vocab::new(ranks, None).unwrap();
    let built = Backtrack::tables(&vocab).expect("cl100k merges in rank order");
    let embedded_vocab = Vocab::embedded();
    let embedded = embedded_vocab.backtrack().expect("embedded tables");
    assert!(matches!(embedded.nodes, Cow::Borrowed(_)) || cfg!(target_endian = "big"));
    assert!(built.meta == *embedded.meta, "meta differs");
    assert!(built.nodes == *embedded.nodes, "trie nodes differ");
    assert!(built.labels == *embedded.labels, "trie labels differ");
    assert!(built.root2 == *embedded.root2, "root2 differs");
    assert!(
        built.pair_filter == *embedded.pair_filter,
        "pair filter differs"
    );
    // And the tables work: every token of the vocabulary is reachable but the single bytes,
    // which are leaves, and a token encodes to itself.
    assert_eq!(
        built
            .meta
            .iter()
            .filter(|m| m.len > 1 && m.left != NONE)
            .count(),
        100_000
    );
    let mut out = Vec::new();
    for id in (0..vocab.id_limit() as u32).step_by(97) {
        out.clear();
        assert!(embedded.encode(&vocab, vocab.bytes_of(id).unwrap(), &mut out));
        assert_eq!(out, [id]);
    }
}

/// The trie built from tokens in byte order against a plain one (nested maps, one insertion per
/// token) on a small vocabulary with shared prefixes and a token of every length up to 9.
#[cfg(test)]
#[test]
fn trie_matches_a_map_of_prefixes() {
    let words: Vec<&[u8]> = vec![
        b"a",
        b"b",
        b"c",
        b"ab",
        b"abc",
        b"abcd",
        b"abcdefghi",
        b"ba",
        b"bab",
        b"ca",
        b"cab",
        b"cabc",
        b"cc",
        b"ccc",
    ];
    let mut meta = vec![TokenMeta::EMPTY; words.len()];
    for (m, w) in meta.iter_mut().zip(&words) {
        m.len = w.len() as u32;
    }
    // Rank order holds trivially: no token has a split here (the trie does not need them).
    let tables = Tables::build(meta, |id| words[id as usize]).unwrap();
    // Walk every prefix of every word: the node reached must carry the word whose bytes those
    // are, if any, and `next_prefix` must be the longest shorter word that is a prefix.
    let walk = |bytes: &[u8]| {
        let mut node = 0u32;
        for &b in bytes {
            let n = tables.nodes[node as usize];
            let kids = n.first_child..n.first_child + n.child_count;
            node = kids
                .clone()
                .find(|&k| tables.labels[k as usize] == b)
                .unwrap_or_else(|| panic!("no child {b} under {bytes:?}"));
            // Children in increasing byte order.
            let labels: Vec<u8> = kids.map(|k| tables.labels[k as usize]).collect();
            assert!(labels.windows(2).all(|w| w[0] < w[1]));
        }
        tables.nodes[node as usize].token
    };
    for (id, w) in words.iter().enumerate() {
        for end in 1..=w.len() {
            let expected = words.iter().position(|x| *x == &w[..end]);
            assert_eq!(walk(&w[..end]), expected.map_or(NONE, |i| i as u32));
        }
        let shorter = (1..w.len())
            .rev()
            .find_map(|end| words.iter().position(|x| *x == &w[..end]));
        assert_eq!(
            tables.meta[id].next_prefix,
            shorter.map_or(NONE, |i| i as u32),
            "{w:?}"
        );
    }
    // One node per distinct prefix, plus the root; breadth first: depths never decrease.
    let prefixes: std::collections::HashSet<&[u8]> = words
        .iter()
        .flat_map(|w| (1..=w.len()).map(move |end| &w[..end]))
        .collect();
    assert_eq!(tables.nodes.len(), prefixes.len() + 1);
    let mut depth = vec![0usize; tables.nodes.len()];
    for (i, n) in tables.nodes.iter().enumerate() {
        for k in n.first_child..n.first_child + n.child_count {
            depth[k as usize] = depth[i] + 1;
        }
    }
    assert!(depth.windows(2).all(|w| w[0] <= w[1]));
}
