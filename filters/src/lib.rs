//! arcade-filters: the published quality, language and code filters (Gopher, C4, FineWeb,
//! The Stack / StarCoder, language identification and the basics) as stages of
//! `arcade-pipeline`'s stage interface.
//!
//! Every stage reports why it dropped a document: the rule, the measured value and the
//! threshold ([`arcade_pipeline::stage::Verdict::drop`]). [`register`] adds all of them to a
//! [`StageRegistry`], so that recipes and `--stages` lists can name them.

use arcade_pipeline::stage::StageRegistry;

pub mod basics;
pub mod c4;
pub mod code;
pub mod fineweb;
pub mod gopher;
pub mod lang;
pub mod text;

/// The stage list `arcade filter` runs on web text when none is given: the FineWeb recipe's
/// quality filters, in its order.
pub const DEFAULT_WEB_STAGES: &str = "gopher-repetition,gopher-quality,c4,fineweb-quality";

/// Adds every stage kind of this crate to `registry`.
pub fn register(registry: &mut StageRegistry) {
    basics::register(registry);
    c4::register(registry);
    code::register(registry);
    fineweb::register(registry);
    gopher::register(registry);
    lang::register(registry);
}

/// The pipeline's own stages plus this crate's.
pub fn registry() -> StageRegistry {
    let mut registry = StageRegistry::default();
    register(&mut registry);
    registry
}
