//! (being written)

use arcade_pipeline::stage::StageRegistry;

pub(crate) fn register(_registry: &mut StageRegistry) {}
