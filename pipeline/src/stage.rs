//! The stage interface: what runs on each document between reading and tokenization.
//!
//! A stage looks at one document and keeps it, keeps it changed, or drops it, and always says
//! why in terms a user can audit: the stage, the rule, the measured value and the threshold.
//! Filters, deduplication and restructuring each plug in as one [`Stage`]; the packer counts every
//! verdict per source (`stage:rule`) in its summary and manifest.
//!
//! Stages are built from the recipe's `[[stage]]` tables by a [`StageRegistry`], which maps a
//! `kind` to a constructor. Crates that add stages (arcade-filters, ...) register their kinds, so
//! the pipeline does not depend on them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::read::Document;

/// One step applied to every document before tokenization. Runs on many threads at once.
pub trait Stage: Send + Sync {
    /// Short, stable name used in statistics (`length`, `gopher-quality`, ...).
    fn name(&self) -> &str;
    /// Looks at (and may change) one document.
    fn apply(&self, doc: &mut Document) -> Verdict;
    /// Record fields besides the text that this stage reads through [`Document::field`]
    /// (a code filter's `lang` or `path`, say). Readers extract only the fields some stage asks for.
    fn fields(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The extra record fields a list of stages reads, each once, in first-asked order.
pub fn fields_read_by<'a>(stages: impl IntoIterator<Item = &'a dyn Stage>) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for stage in stages {
        for field in stage.fields() {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
    }
    fields
}

/// Reads a stage's parameters into its config type; the message names the offending key.
/// Config types use `#[serde(deny_unknown_fields)]` so that a misspelt threshold is an error
/// instead of a silently ignored default.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: &toml::Table) -> Result<T, String> {
    toml::Value::Table(params.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

/// What a stage decided about a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Keep,
    /// Kept, but the stage changed the text; `rule` says how (e.g. `drop-short-lines`).
    Changed {
        rule: String,
    },
    Drop(DropReason),
}

/// Why a document was dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct DropReason {
    pub rule: String,
    /// What the stage measured, and the limit it compared it with.
    pub value: f64,
    pub threshold: f64,
}

impl Verdict {
    pub fn drop(rule: impl Into<String>, value: f64, threshold: f64) -> Verdict {
        Verdict::Drop(DropReason {
            rule: rule.into(),
            value,
            threshold,
        })
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (value {}, threshold {})",
            self.rule, self.value, self.threshold
        )
    }
}

/// A `[[stage]]` table of the recipe: its kind, the sources it applies to (all when absent), and
/// the kind's own parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageSpec {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    #[serde(flatten)]
    pub params: toml::Table,
}

/// A stage of the run, with the sources it is limited to.
pub struct ConfiguredStage {
    pub stage: Box<dyn Stage>,
    pub sources: Option<Vec<String>>,
}

impl ConfiguredStage {
    pub fn applies_to(&self, source: &str) -> bool {
        self.sources
            .as_ref()
            .is_none_or(|s| s.iter().any(|n| n == source))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("unknown stage kind {kind:?}; known kinds: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("stage {kind:?}: {message}")]
    Invalid { kind: String, message: String },
}

type Constructor = fn(&toml::Table) -> Result<Box<dyn Stage>, String>;

/// Maps stage kinds to their constructors.
pub struct StageRegistry {
    kinds: BTreeMap<&'static str, Constructor>,
    /// The parameter that a bare value list in a stage-list string fills (`lang:en+de`).
    shorthands: BTreeMap<&'static str, &'static str>,
}

impl Default for StageRegistry {
    /// The stages this crate provides.
    fn default() -> Self {
        let mut registry = StageRegistry {
            kinds: BTreeMap::new(),
            shorthands: BTreeMap::new(),
        };
        registry.register("length", LengthFilter::from_params);
        registry
    }
}

impl StageRegistry {
    pub fn register(&mut self, kind: &'static str, constructor: Constructor) {
        self.kinds.insert(kind, constructor);
    }

    /// Lets `kind:a+b` in a stage-list string stand for `param = ["a", "b"]`.
    pub fn register_shorthand(&mut self, kind: &'static str, param: &'static str) {
        self.shorthands.insert(kind, param);
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }

    /// Parses a command-line stage list: stages separated by commas, each `kind` followed by
    /// optional `:`-separated parameters, either `key=value` (the value read as TOML when it
    /// parses, as a string otherwise; `a+b` gives a list) or, for kinds with a shorthand, a bare
    /// `a+b` list. Example: `gopher-quality,lang:en+de:min_score=0.7,length:min_chars=200`.
    /// A value in TOML quotes (`"..."` or `'...'`) is one string, whatever it contains:
    /// `regex:pattern='\d{1,3}+:x'`.
    pub fn parse_list(&self, list: &str) -> Result<Vec<StageSpec>, StageError> {
        let mut specs = Vec::new();
        for item in split_unquoted(list, ',')
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let mut parts = split_unquoted(item, ':').into_iter();
            let kind = parts.next().unwrap_or_default().to_string();
            if !self.kinds.contains_key(kind.as_str()) {
                return Err(StageError::UnknownKind {
                    kind,
                    known: self.kinds().collect::<Vec<_>>().join(", "),
                });
            }
            let mut params = toml::Table::new();
            for part in parts {
                let key_value = split_unquoted(part, '=');
                let key_value =
                    (key_value.len() > 1).then(|| (key_value[0], &part[key_value[0].len() + 1..]));
                let (key, value) = match key_value {
                    Some((key, value)) => (key.trim().to_string(), value.trim()),
                    None => match self.shorthands.get(kind.as_str()) {
                        Some(key) => (key.to_string(), part.trim()),
                        None => {
                            return Err(StageError::Invalid {
                                kind,
                                message: format!("{part:?} is not key=value"),
                            })
                        }
                    },
                };
                let list_param = self.shorthands.get(kind.as_str()) == Some(&key.as_str());
                params.insert(key, list_value(value, list_param));
            }
            specs.push(StageSpec {
                kind,
                sources: None,
                params,
            });
        }
        Ok(specs)
    }

    pub fn build(&self, spec: &StageSpec) -> Result<ConfiguredStage, StageError> {
        let constructor =
            self.kinds
                .get(spec.kind.as_str())
                .ok_or_else(|| StageError::UnknownKind {
                    kind: spec.kind.clone(),
                    known: self.kinds.keys().copied().collect::<Vec<_>>().join(", "),
                })?;
        let stage = constructor(&spec.params).map_err(|message| StageError::Invalid {
            kind: spec.kind.clone(),
            message,
        })?;
        Ok(ConfiguredStage {
            stage,
            sources: spec.sources.clone(),
        })
    }
}

/// A stage-list value: `a+b` (or any value of a list parameter) is a list, otherwise TOML
/// (`0.5`, `true`, `"x"`) when it parses, else a plain string.
fn list_value(value: &str, list_param: bool) -> toml::Value {
    let scalar = |v: &str| {
        format!("v = {v}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.to_string()))
    };
    let items = split_unquoted(value, '+');
    if list_param || items.len() > 1 {
        toml::Value::Array(items.into_iter().map(|v| scalar(v.trim())).collect())
    } else {
        scalar(value)
    }
}

/// `text` cut at every `sep` that is not inside TOML quotes: `"..."` (where `\"` does not end
/// the string) or `'...'`. A quote opens a string only at the start of a field (first, or after
/// one of `,:=+` or white space), so that an apostrophe inside a bare word stays a character. An unclosed quote
/// runs to the end, and reading the value as TOML then reports it.
fn split_unquoted(text: &str, sep: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut quote, mut escaped, mut prev) = (0, None, false, None);
    for (i, c) in text.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == '"' || c == '\'')
                && prev.is_none_or(|p: char| {
                    matches!(p, ',' | ':' | '=' | '+') || p.is_whitespace()
                }) =>
            {
                quote = Some(c)
            }
            None if c == sep => {
                pieces.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
        prev = Some(c);
    }
    pieces.push(&text[start..]);
    pieces
}

/// Drops documents shorter or longer than a number of characters (Unicode scalar values) or
/// tokens. Token limits count with `encoding` (arcade100k unless set), without building ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthConfig {
    #[serde(default)]
    pub min_chars: usize,
    #[serde(default = "usize_max")]
    pub max_chars: usize,
    #[serde(default)]
    pub min_tokens: Option<usize>,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default = "default_encoding")]
    pub encoding: String,
}

fn usize_max() -> usize {
    usize::MAX
}

fn default_encoding() -> String {
    "arcade100k".into()
}

/// The `length` stage; see [`LengthConfig`].
pub struct LengthFilter {
    config: LengthConfig,
    /// Only when a token limit is set.
    tokenizer: Option<arcade_tokenizer::Tokenizer>,
}

impl LengthFilter {
    pub fn new(config: LengthConfig) -> Result<Self, String> {
        if config.min_chars > config.max_chars {
            return Err(format!(
                "min_chars {} is above max_chars {}",
                config.min_chars, config.max_chars
            ));
        }
        if let (Some(min), Some(max)) = (config.min_tokens, config.max_tokens) {
            if min > max {
                return Err(format!("min_tokens {min} is above max_tokens {max}"));
            }
        }
        let tokenizer = if config.min_tokens.is_some() || config.max_tokens.is_some() {
            Some(
                arcade_tokenizer::Tokenizer::builtin(&config.encoding)
                    .map_err(|e| format!("encoding {:?}: {e}", config.encoding))?,
            )
        } else {
            None
        };
        Ok(Self { config, tokenizer })
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(LengthFilter::new(parse_params(params)?)?))
    }
}

impl Stage for LengthFilter {
    fn name(&self) -> &str {
        "length"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let c = &self.config;
        // A text of n bytes has between n/4 and n characters: count them only when that range
        // reaches a limit, which most documents' does not.
        let bytes = doc.text.len();
        if bytes.div_ceil(4) < c.min_chars || bytes > c.max_chars {
            let chars = doc.text.chars().count();
            if chars < c.min_chars {
                return Verdict::drop("min_chars", chars as f64, c.min_chars as f64);
            }
            if chars > c.max_chars {
                return Verdict::drop("max_chars", chars as f64, c.max_chars as f64);
            }
        }
        if let Some(tokenizer) = &self.tokenizer {
            let tokens = tokenizer.count_tokens(&doc.text);
            if let Some(min) = c.min_tokens.filter(|&m| tokens < m) {
                return Verdict::drop("min_tokens", tokens as f64, min as f64);
            }
            if let Some(max) = c.max_tokens.filter(|&m| tokens > m) {
                return Verdict::drop("max_tokens", tokens as f64, max as f64);
            }
        }
        Verdict::Keep
    }
}

/// What a list of stages decided about one document.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Kept; `changed` lists the `stage:rule` of every stage that changed the text.
    Kept { changed: Vec<String> },
    /// Dropped by `stage`; stages before it may have changed the text.
    Dropped {
        stage: String,
        reason: DropReason,
        changed: Vec<String>,
    },
}

impl Decision {
    /// The `stage:rule` key under which a drop is counted.
    pub fn drop_key(&self) -> Option<String> {
        match self {
            Decision::Kept { .. } => None,
            Decision::Dropped { stage, reason, .. } => Some(format!("{stage}:{}", reason.rule)),
        }
    }

    pub fn changed(&self) -> &[String] {
        match self {
            Decision::Kept { changed } | Decision::Dropped { changed, .. } => changed,
        }
    }
}

/// Runs `stages` in order over `doc` until one drops it. The one place where verdicts become
/// decisions, shared by `arcade pack` and `arcade filter`.
pub fn run_stages<'a>(
    stages: impl IntoIterator<Item = &'a dyn Stage>,
    doc: &mut Document,
) -> Decision {
    let mut changed = Vec::new();
    for stage in stages {
        match stage.apply(doc) {
            Verdict::Keep => {}
            Verdict::Changed { rule } => changed.push(format!("{}:{rule}", stage.name())),
            Verdict::Drop(reason) => {
                return Decision::Dropped {
                    stage: stage.name().to_string(),
                    reason,
                    changed,
                }
            }
        }
    }
    Decision::Kept { changed }
}
