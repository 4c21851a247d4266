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

/// Parts of an object-store scan in flight at once unless told otherwise (measured on the
/// 10M-line RFM over S3 in BENCHMARKS.md: 8 to 32 are alike, 2 is three times slower).
pub const DEFAULT_REMOTE_SCAN_PARTITIONS: usize = 16;

extensions_options! {
    /// segsql's settings, under the `segsql.` prefix.
    pub struct SegsqlOptions {
        /// The folder where CREATE MODEL writes models and the scoring functions read them.
        pub models_dir: String, default = DEFAULT_MODELS_DIR.to_string()
        /// How many parts a scan of files on an object store (`s3://...`) is cut into, when
        /// that is more than the session's target partitions: each part has one request in
        /// flight, so more parts hide more of each request's latency. 0 keeps DataFusion's split.
        pub remote_scan_partitions: usize, default = DEFAULT_REMOTE_SCAN_PARTITIONS
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

/// The session's `segsql.remote_scan_partitions` (the default in a plain DataFusion session).
pub fn remote_scan_partitions(options: &ConfigOptions) -> usize {
    options.extensions.get::<SegsqlOptions>().map_or(DEFAULT_REMOTE_SCAN_PARTITIONS, |o| o.remote_scan_partitions)
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
