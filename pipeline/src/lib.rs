//! arcade-pipeline: turns raw corpora into tokenized training shards.
//!
//! [`read`] streams documents out of JSONL, Parquet and plain-text inputs (optionally gzip or
//! zstd compressed), one record at a time, with a precise location for every error.

pub mod audit;
pub mod batch;
mod durable;
pub mod filter;
mod le;
pub mod manifest;
pub mod megatron;
pub mod pack;
pub mod read;
pub mod recipe;
pub mod shards;
pub mod stage;
