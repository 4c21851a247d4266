//! The models directory: `<dir>/<name>.json`, written atomically, read once per change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, exec_err, plan_err};
use parking_lot::Mutex;

use crate::clv::memo::Memo;
use crate::options::models_dir;
use segsql_algo::model::{ClvModel, KMeansModel, LogisticModel, Model};

/// Models read so far, by file path, with the modification time and length they had: a
/// query reads each model file once, and again only after it changed. The cache is keyed by
/// path, so it holds no setting: which folder is read comes from the session each time.
static CACHE: LazyLock<Mutex<HashMap<PathBuf, Cached>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A parsed model with the stamp its file had, and the scoring values computed from it so far.
type Cached = (Stamp, Arc<Model>, Arc<Memo>);

/// What tells a changed file: modification time, length and (on Unix) inode. Every save
/// writes a new file and renames it over the old one, so it gets a new inode even when the
/// time and length come out the same.
type Stamp = (SystemTime, u64, u64);

fn stamp_of(metadata: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0;
    (metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH), metadata.len(), inode)
}

/// One models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStore {
    dir: PathBuf,
}

impl ModelStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ModelStore { dir: dir.into() }
    }

    /// The folder the session's `segsql.models_dir` names.
    pub fn for_session(options: &ConfigOptions) -> Self {
        ModelStore::new(models_dir(options))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Model names are SQL identifiers: letters, digits and `_`, compared in lower case.
    pub fn normalize(name: &str) -> Result<String> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return plan_err!("model name '{name}' may only contain letters, digits and _");
        }
        Ok(lower)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The model called `name`, read from disk only when its file changed.
    pub fn load(&self, function: &str, name: &str) -> Result<Arc<Model>> {
        self.load_with_memo(function, name).map(|(model, _)| model)
    }

    /// [`ModelStore::load`], with the memo of values scored from this version of the file.
    fn load_with_memo(&self, function: &str, name: &str) -> Result<(Arc<Model>, Arc<Memo>)> {
        let name = Self::normalize(name)?;
        let path = self.path(&name);
        let metadata = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => {
                return plan_err!(
                    "{function}: no model '{name}' in {} (SHOW MODELS lists them; CREATE MODEL makes one)",
                    self.dir.display()
                );
            }
        };
        let stamp = stamp_of(&metadata);
        if let Some((cached, model, memo)) = CACHE.lock().get(&path)
            && *cached == stamp
        {
            return Ok((Arc::clone(model), Arc::clone(memo)));
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => return plan_err!("{function}: cannot read model '{name}' ({}): {e}", path.display()),
        };
        let model = match Model::from_json(&text) {
            Ok(model) => Arc::new(model),
            Err(problem) => {
                return plan_err!(
                    "{function}: model '{name}' ({}) is {problem}; recreate it with CREATE OR REPLACE MODEL",
                    path.display()
                );
            }
        };
        let memo = Arc::new(Memo::default());
        CACHE.lock().insert(path, (stamp, Arc::clone(&model), Arc::clone(&memo)));
        Ok((model, memo))
    }

    /// The k-means model called `name` (a copy: models are small); another kind is an
    /// error naming the functions that take it.
    pub fn load_kmeans(&self, function: &str, name: &str) -> Result<KMeansModel> {
        match self.load(function, name)?.as_ref() {
            Model::KMeans(m) => Ok(m.clone()),
            other => Err(wrong_kind(function, name, other, "kmeans")),
        }
    }

    /// The logistic_reg model called `name`.
    pub fn load_logistic(&self, function: &str, name: &str) -> Result<LogisticModel> {
        match self.load(function, name)?.as_ref() {
            Model::Logistic(m) => Ok(m.clone()),
            other => Err(wrong_kind(function, name, other, "logistic_reg")),
        }
    }

    /// The CLV model called `name`, of one of the `kinds`, with its memo.
    pub fn load_clv(&self, function: &str, name: &str, kinds: &[&str]) -> Result<(ClvModel, Arc<Memo>)> {
        let (model, memo) = self.load_with_memo(function, name)?;
        match model.as_ref() {
            Model::Clv(m) if kinds.contains(&m.algorithm.as_str()) => Ok((m.clone(), memo)),
            other => Err(wrong_kind(function, name, other, &either(kinds))),
        }
    }

    pub fn exists(&self, name: &str) -> bool {
        Self::normalize(name).is_ok_and(|n| self.path(&n).exists())
    }

    /// Writes the model through a temporary file and a rename, so a failure leaves any
    /// previous file as it was. Without `replace`, an existing model is an error.
    pub fn save(&self, model: &Model, replace: bool) -> Result<PathBuf> {
        let name = Self::normalize(model.name())?;
        let path = self.path(&name);
        if !replace && path.exists() {
            return exec_err!(
                "CREATE MODEL: model '{name}' already exists ({}); use CREATE OR REPLACE MODEL to overwrite it",
                path.display()
            );
        }
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            return exec_err!("CREATE MODEL: cannot create the models directory {}: {e}", self.dir.display());
        }
        let temporary = self.dir.join(format!(".{name}.json.{}.tmp", std::process::id()));
        let written = std::fs::write(&temporary, model.to_json()).and_then(|_| std::fs::rename(&temporary, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return exec_err!("CREATE MODEL: cannot write {}: {e}", path.display());
        }
        // A rewrite within the file system's timestamp resolution must still be seen.
        CACHE.lock().remove(&path);
        Ok(path)
    }

    /// Deletes the model's file; `Ok(false)` when there was none.
    pub fn drop_model(&self, name: &str) -> Result<bool> {
        let name = Self::normalize(name)?;
        let path = self.path(&name);
        CACHE.lock().remove(&path);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => exec_err!("DROP MODEL: cannot delete {}: {e}", path.display()),
        }
    }

    /// The names of the models in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().into_string().ok()?;
                let name = file.strip_suffix(".json")?;
                (!name.starts_with('.')).then(|| name.to_string())
            })
            .collect();
        names.sort();
        names
    }
}

/// "a", "a or b", "a, b or c".
pub fn either(kinds: &[&str]) -> String {
    match kinds {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The functions that take a model of `kind`.
pub fn functions_for(kind: &str) -> &'static str {
    match kind {
        "kmeans" => "kmeans_assign, kmeans_distance and model_centroids",
        "bgnbd" | "mbgnbd" | "pareto_nbd" => {
            "p_alive, expected_purchases, clv (its first model), model_params and model_evaluate"
        }
        "gamma_gamma" => "expected_avg_value, clv (its second model) and model_params",
        "logistic_reg" => "predict_proba, model_params and model_evaluate",
        _ => "no function",
    }
}

/// "f: model 'm' is a bgnbd model; f takes kmeans models. A bgnbd model is used by ...".
pub fn wrong_kind(function: &str, name: &str, model: &Model, wanted: &str) -> datafusion::error::DataFusionError {
    let kind = model.kind();
    datafusion::error::DataFusionError::Plan(format!(
        "{function}: model '{name}' is a {kind} model, but {function} takes {wanted} models; a {kind} model is used by {}",
        functions_for(kind)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use segsql_algo::clv::{Estimate, Fit, FitParams};

    fn spend_model(v: f64) -> Model {
        let estimate = |name, value| Estimate { name, value, std_error: None };
        let fit = Fit {
            estimates: vec![estimate("p", 2.0), estimate("q", 3.0), estimate("v", v)],
            log_likelihood: -1.0,
            objective: 1.0,
            iterations: 1,
            customers: 1,
        };
        Model::Clv(ClvModel::new("spend", "gamma_gamma", vec![], None, FitParams::default(), fit, Default::default()))
    }

    /// A file replaced by another of the same length with the same modification time (a
    /// copy that keeps times, or a rewrite within the clock's resolution) is read again,
    /// and its memo starts empty.
    #[test]
    fn a_replaced_file_is_read_again_whatever_its_time_and_length() {
        let dir = std::env::temp_dir().join(format!("segsql-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = ModelStore::new(&dir);
        let path = store.path("spend");
        let (first, second) = (spend_model(15.0).to_json(), spend_model(16.0).to_json());
        assert_eq!(first.len(), second.len());
        std::fs::write(&path, &first).expect("write");
        let (model, memo) = store.load_clv("t", "spend", &["gamma_gamma"]).expect("load");
        assert_eq!(model.parameter("v"), Some(15.0));
        memo.get_or(&mut Default::default(), crate::clv::memo::key(1, 0.0, 0.0, 0.0), || Some(1.0));
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
        let other = dir.join("other.json.tmp");
        std::fs::write(&other, &second).expect("write");
        std::fs::File::options().write(true).open(&other).and_then(|f| f.set_modified(modified)).expect("set mtime");
        std::fs::rename(&other, &path).expect("rename");
        let (model, memo) = store.load_clv("t", "spend", &["gamma_gamma"]).expect("load");
        assert_eq!(model.parameter("v"), Some(16.0));
        assert!(memo.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
