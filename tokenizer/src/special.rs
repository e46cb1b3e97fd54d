//! Special tokens: control strings such as `<|endoftext|>` with ids outside the ranks.

use rustc_hash::FxHashMap;

use crate::error::LoadError;

/// The special tokens of an encoding, in their declared order.
#[derive(Debug, Clone)]
pub(crate) struct Specials {
    tokens: Vec<(String, u32)>,
    by_name: FxHashMap<String, u32>,
    by_id: FxHashMap<u32, usize>,
    /// Bytes that start some special token: the search skips every other byte cheaply.
    first_bytes: [bool; 256],
}

impl Specials {
    pub(crate) fn new(tokens: Vec<(String, u32)>) -> Result<Specials, LoadError> {
        let mut by_name = FxHashMap::default();
        let mut by_id = FxHashMap::default();
        let mut first_bytes = [false; 256];
        for (index, (name, id)) in tokens.iter().enumerate() {
            let Some(&first) = name.as_bytes().first() else {
                return Err(LoadError::EmptySpecial);
            };
            if by_name.insert(name.clone(), *id).is_some() {
                return Err(LoadError::DuplicateSpecial(name.clone()));
            }
            if let Some(other) = by_id.insert(*id, index) {
                return Err(LoadError::SpecialIdClash {
                    name: name.clone(),
                    id: *id,
                    existing: tokens[other].0.clone(),
                });
            }
            first_bytes[first as usize] = true;
        }
        Ok(Specials {
            tokens,
            by_name,
            by_id,
            first_bytes,
        })
    }

    pub(crate) fn tokens(&self) -> &[(String, u32)] {
        &self.tokens
    }

    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn name(&self, id: u32) -> Option<&str> {
        self.by_id.get(&id).map(|&i| self.tokens[i].0.as_str())
    }

    /// The leftmost special token in `text` at or after byte `from`: (start, name, id). When two
    /// start at the same byte the longer wins (the built-in sets have no such overlap).
    pub(crate) fn find<'s>(&'s self, text: &str, from: usize) -> Option<(usize, &'s str, u32)> {
        let bytes = text.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            if self.first_bytes[bytes[i] as usize] {
                let rest = &bytes[i..];
                let best = self
                    .tokens
                    .iter()
                    .filter(|(name, _)| rest.starts_with(name.as_bytes()))
                    .max_by_key(|(name, _)| name.len());
                if let Some((name, id)) = best {
                    return Some((i, name, *id));
                }
            }
            i += 1;
        }
        None
    }
}
