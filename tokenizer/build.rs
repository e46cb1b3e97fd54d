//! Builds the tables of the embedded cl100k ranks (`assets/`) at compile time, with the same code
//! the library uses for ranks given at run time, and writes them to `OUT_DIR` as little-endian
//! bytes for `src/embedded.rs` to include: the backtracking encoder's (`src/backtrack_tables.rs`,
//! 15-40 ms to build at run time) and the vocabulary's token bytes, whole-token lookup table and
//! two-byte table (`src/flat_map.rs`; parsing the ranks and building those took about 15 ms per
//! process). Included, they cost nothing until used.

#[path = "src/backtrack_tables.rs"]
mod backtrack_tables;
#[allow(dead_code)]
#[path = "src/flat_map.rs"]
mod flat_map;

use std::collections::HashMap;
use std::path::Path;

use backtrack_tables::{token_meta, Tables};
use base64::Engine;

fn main() {
    for input in [
        "build.rs",
        "src/backtrack_tables.rs",
        "src/flat_map.rs",
        "assets/cl100k_base.tiktoken",
        "assets/cl100k_base.splits",
    ] {
        println!("cargo:rerun-if-changed={input}");
    }
    let ranks = std::fs::read("assets/cl100k_base.tiktoken").expect("assets/cl100k_base.tiktoken");
    let splits = std::fs::read("assets/cl100k_base.splits").expect("assets/cl100k_base.splits");

    let engine = base64::engine::general_purpose::STANDARD;
    let mut by_id: Vec<Vec<u8>> = Vec::new();
    for (line_no, line) in ranks.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let text = std::str::from_utf8(line).expect("ranks are ASCII");
        let (token, rank) = text
            .split_once(' ')
            .unwrap_or_else(|| panic!("ranks line {}: two fields", line_no + 1));
        let rank: usize = rank.trim_end().parse().expect("a numeric rank");
        if by_id.len() <= rank {
            by_id.resize(rank + 1, Vec::new());
        }
        by_id[rank] = engine.decode(token).expect("base64 token");
    }
    assert_eq!(splits.len(), by_id.len(), "one split per id");
    let id_of: HashMap<&[u8], u32> = by_id
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(id, b)| (b.as_slice(), id as u32))
        .collect();

    // The canonical split of every token; every cl100k token is reachable.
    let meta = token_meta(
        by_id.len(),
        |id| Some(&by_id[id as usize][..]).filter(|b| !b.is_empty()),
        |id, bytes| {
            let at = splits[id as usize] as usize;
            assert!(
                at > 0 && at < bytes.len(),
                "token {id} has a canonical split"
            );
            Some((id_of[&bytes[..at]], id_of[&bytes[at..]]))
        },
    );
    let tables = Tables::build(meta, |id| &by_id[id as usize][..])
        .expect("cl100k merges happen in rank order");

    let out = std::env::var_os("OUT_DIR").expect("OUT_DIR");
    let write = |name: &str, words: &mut dyn Iterator<Item = u32>| {
        let bytes: Vec<u8> = words.flat_map(u32::to_le_bytes).collect();
        std::fs::write(Path::new(&out).join(name), bytes).expect("writes OUT_DIR");
    };
    write(
        "cl100k_meta.bin",
        &mut tables
            .meta
            .iter()
            .flat_map(|m| [m.len, m.next_prefix, m.left, m.right]),
    );
    write(
        "cl100k_pair_filter.bin",
        &mut tables
            .pair_filter
            .iter()
            .flat_map(|&w| [w as u32, (w >> 32) as u32]),
    );
    write("cl100k_root2.bin", &mut tables.root2.iter().copied());
    write(
        "cl100k_nodes.bin",
        &mut tables
            .nodes
            .iter()
            .flat_map(|n| [n.first_child, n.child_count, n.token]),
    );
    std::fs::write(Path::new(&out).join("cl100k_labels.bin"), &tables.labels)
        .expect("writes OUT_DIR");

    // The vocabulary (`Vocab::embedded`): token bytes in id order and their offsets; the
    // whole-token table of tokens of up to 7 bytes, sized and filled in id order as `Vocab::new`
    // does (cl100k's file lists its tokens in id order); the two-byte token table.
    let token_bytes: Vec<u8> = by_id.concat();
    std::fs::write(Path::new(&out).join("cl100k_bytes.bin"), &token_bytes).expect("writes OUT_DIR");
    let mut offset = 0u32;
    write(
        "cl100k_offsets.bin",
        &mut std::iter::once(0).chain(by_id.iter().map(|b| {
            offset += b.len() as u32;
            offset
        })),
    );
    let tiny_keys: Vec<(u64, u32)> = by_id
        .iter()
        .enumerate()
        .filter(|(_, token)| !token.is_empty())
        .filter_map(|(id, token)| flat_map::pack_tiny(token).map(|key| (key, id as u32)))
        .collect();
    let mut tiny = flat_map::FlatMap::<u32>::with_capacity(tiny_keys.len());
    for (key, id) in tiny_keys {
        assert!(tiny.insert(key, id), "token bytes appear once");
    }
    write(
        "cl100k_tiny.bin",
        &mut tiny
            .slots()
            .iter()
            .flat_map(|s| [s.key as u32, (s.key >> 32) as u32, s.value, 0]),
    );
    write(
        "cl100k_byte_pairs.bin",
        &mut (0..1usize << 16).map(|i| {
            let pair = [(i >> 8) as u8, i as u8];
            id_of.get(&pair[..]).copied().unwrap_or(u32::MAX)
        }),
    );
}
