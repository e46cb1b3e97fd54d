//! The sources `pack` and `filter` read: a recipe's, plus `--input` files given on the command
//! line.

use anyhow::{bail, Result};
use arcade_pipeline::recipe::{self, Recipe, SourceSpec};

/// What `pack` and `filter` read: a recipe's sources, plus `--input` files as one more source
/// named `input`.
pub(crate) struct InputArgs<'a> {
    pub command: &'static str,
    pub recipe: Option<&'a std::path::Path>,
    pub input: &'a [String],
    pub field: &'a str,
    pub id_field: Option<&'a str>,
    pub input_format: Option<&'a str>,
}

/// The recipe (or an empty one) with `--input` added as a source.
pub(crate) fn recipe_with_inputs(a: InputArgs) -> Result<Recipe> {
    let mut recipe = match a.recipe {
        Some(path) => Recipe::from_file(path)?,
        None => {
            if a.input.is_empty() {
                bail!(
                    "nothing to {0}: give --recipe FILE or --input FILES (see `arcade {0} --help`)",
                    a.command
                );
            }
            toml::from_str::<Recipe>("").expect("the empty recipe is valid")
        }
    };
    if !a.input.is_empty() {
        let format = a
            .input_format
            .map(recipe::parse_format)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        recipe.sources.push(SourceSpec {
            name: "input".into(),
            paths: a.input.to_vec(),
            format,
            field: a.field.to_string(),
            id_field: a.id_field.map(str::to_string),
            weight: 1.0,
        });
    }
    Ok(recipe)
}
