//! The tokenizer flags shared by every subcommand that encodes or decodes: which encoding
//! (built-in or a tiktoken ranks file), its special tokens, and normalization.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use arcade_pipeline::recipe::{TokenizerError, TokenizerSpec};
use arcade_tokenizer::{Tokenizer, BUILTIN_ENCODINGS};
use clap::Args;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Encoding")]
pub struct EncodingArgs {
    /// Built-in encoding: arcade100k (Stable LM 2) or cl100k_base
    #[arg(
        long,
        value_name = "NAME",
        default_value = "arcade100k",
        conflicts_with = "ranks"
    )]
    pub encoding: String,

    /// A tiktoken-format ranks file (base64 token, space, rank per line) for a custom encoding;
    /// needs --pattern
    #[arg(long, value_name = "FILE", requires = "pattern")]
    pub ranks: Option<PathBuf>,

    /// The split (pre-tokenization) regex of the custom encoding given with --ranks
    #[arg(long, value_name = "REGEX", requires = "ranks")]
    pub pattern: Option<String>,

    /// A special token of the custom encoding, e.g. --special '<|endoftext|>=100257'
    /// (repeatable)
    #[arg(long = "special", value_name = "NAME=ID", requires = "ranks", value_parser = parse_special)]
    pub special: Vec<(String, u32)>,

    /// NFC-normalize text before encoding (as Stable LM 2's original remote-code tokenizer did)
    #[arg(long)]
    pub nfc: bool,
}

fn parse_special(s: &str) -> Result<(String, u32), String> {
    let (name, id) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=ID (e.g. '<|endoftext|>=100257')"))?;
    if name.is_empty() {
        return Err(format!("`{s}`: the special token name is empty"));
    }
    let id = id
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("`{s}`: `{id}` is not a token id (a non-negative integer)"))?;
    Ok((name.to_string(), id))
}

impl EncodingArgs {
    /// Loads the tokenizer these flags describe, through the same [`TokenizerSpec`] a pack
    /// recipe uses.
    pub fn load(&self) -> Result<Tokenizer> {
        let mut specials = BTreeMap::new();
        for (name, id) in &self.special {
            if specials.insert(name.clone(), *id).is_some() {
                bail!("--special {name} is given twice");
            }
        }
        let encoding = match &self.ranks {
            // A custom encoding goes by its ranks file's name.
            Some(ranks) => ranks
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "custom".to_string()),
            None => self.encoding.clone(),
        };
        let spec = TokenizerSpec {
            encoding,
            ranks: self.ranks.clone(),
            pattern: self.pattern.clone(),
            specials,
            nfc: self.nfc,
        };
        match spec.load() {
            Ok(tokenizer) => Ok(tokenizer),
            Err(TokenizerError::Builtin(_)) => bail!(
                "unknown encoding `{}`; built-in encodings are: {} (for another encoding pass \
                 --ranks FILE --pattern REGEX)",
                self.encoding,
                BUILTIN_ENCODINGS.join(", ")
            ),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_special_flags() {
        assert_eq!(
            parse_special("<|endoftext|>=100257"),
            Ok(("<|endoftext|>".into(), 100257))
        );
        assert_eq!(parse_special("a=b=7"), Ok(("a=b".into(), 7)));
        assert!(parse_special("<|x|>").unwrap_err().contains("NAME=ID"));
        assert!(parse_special("=5").unwrap_err().contains("empty"));
        assert!(parse_special("x=-1")
            .unwrap_err()
            .contains("not a token id"));
    }
}
