//! segsql's session settings, a DataFusion config extension: `SET segsql.models_dir = '...'`.
//!
//! Settings live in the session's `ConfigOptions`, which DataFusion hands to functions at
//! execution, so no function keeps its own copy. datafusion-proto does not serialise
//! settings: a session that decodes a plan (a worker) sets `segsql.models_dir` itself, as
//! the distributed engine passes session settings along.

use std::path::PathBuf;

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::extensions_options;
use datafusion::prelude::SessionContext;

/// Where models live unless told otherwise.
pub const DEFAULT_MODELS_DIR: &str = "models";

extensions_options! {
    /// segsql's settings, under the `segsql.` prefix.
    pub struct SegsqlOptions {
        /// The folder where CREATE MODEL writes models and the scoring functions read them.
        pub models_dir: String, default = DEFAULT_MODELS_DIR.to_string()
    }
}

impl ConfigExtension for SegsqlOptions {
    const PREFIX: &'static str = "segsql";
}

/// The models folder of a session's settings (the default when segsql's settings are absent,
/// as in a plain DataFusion session).
pub fn models_dir(options: &ConfigOptions) -> PathBuf {
    let dir = options.extensions.get::<SegsqlOptions>().map_or(DEFAULT_MODELS_DIR, |o| o.models_dir.as_str());
    PathBuf::from(dir)
}

/// Adds segsql's settings to the session, keeping values already set.
pub fn register_options(ctx: &SessionContext) {
    let state = ctx.state_ref();
    let mut state = state.write();
    let extensions = &mut state.config_mut().options_mut().extensions;
    if extensions.get::<SegsqlOptions>().is_none() {
        extensions.insert(SegsqlOptions::default());
    }
}

/// Sets the session's models folder (what `--models` and `SET segsql.models_dir` do).
pub fn set_models_dir(ctx: &SessionContext, dir: impl Into<String>) {
    register_options(ctx);
    let state = ctx.state_ref();
    let mut state = state.write();
    if let Some(options) = state.config_mut().options_mut().extensions.get_mut::<SegsqlOptions>() {
        options.models_dir = dir.into();
    }
}
