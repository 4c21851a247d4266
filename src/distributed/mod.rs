//! Past one machine: the same SQL on `segsql worker` processes, through datafusion-distributed
//! (docs/distributed.md). The coordinator is the ordinary shell session with the distributed
//! planner on top, which cuts the physical plan into stages at shuffles, broadcasts and merges
//! and sends each stage's tasks to workers over gRPC; a worker decodes stage plans, looks
//! segsql's functions up by name, and streams Arrow batches back. Nothing here plans SQL
//! differently: a plan that has no network boundary (one small file) runs on the coordinator.

mod channels;
mod split;
mod worker;

use std::fmt;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion_distributed::{
    DistributedExt, RouteTasksEvent, RouteTasksEventResponse, SessionStateBuilderExt, WorkerResolver,
};
use url::Url;

pub use channels::{AUTH_HEADER, TokenChannels};
pub use worker::{SegsqlWorkerSession, WorkerOptions, bind, serve_worker, worker_session_builder};

/// The environment variable `--workers` falls back to.
pub const WORKERS_ENV: &str = "SEGSQL_WORKERS";
/// The environment variable holding the shared token when `--token-env` is not given.
pub const DEFAULT_TOKEN_ENV: &str = "SEGSQL_WORKER_TOKEN";

/// The workers a coordinator plans across, and the token it shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Cluster {
    /// `http://HOST:PORT`, in the order given (tasks go round-robin in this order).
    pub workers: Vec<Url>,
    /// The shared bearer token, sent on every request when set.
    pub token: Option<String>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A token must never reach a log or an error message.
        f.debug_struct("Cluster")
            .field("workers", &self.workers.iter().map(Url::as_str).collect::<Vec<_>>())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Cluster {
    /// Parses `HOST:PORT,HOST:PORT` (what `--workers` and `SEGSQL_WORKERS` take).
    pub fn parse(list: &str, token: Option<String>) -> Result<Cluster, String> {
        let mut workers = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            workers.push(worker_url(item)?);
        }
        if workers.is_empty() {
            return Err("--workers: expected HOST:PORT[,HOST:PORT...], got an empty list".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for url in &workers {
            if !seen.insert(url.as_str()) {
                return Err(format!("--workers: {} is listed twice", address(url)));
            }
        }
        Ok(Cluster { workers, token })
    }
}

/// `HOST:PORT` as the URL the gRPC client connects to.
fn worker_url(item: &str) -> Result<Url, String> {
    let bad = || format!("--workers: '{item}' is not HOST:PORT (for example 127.0.0.1:50051)");
    let (host, port) = item.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    Url::parse(&format!("http://{item}")).map_err(|_| bad())
}

/// `HOST:PORT` of a worker URL, as messages name workers.
pub fn address(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => url.to_string(),
    }
}

/// The fixed worker list.
struct StaticWorkers(Vec<Url>);

impl WorkerResolver for StaticWorkers {
    fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
        Ok(self.0.clone())
    }
}

/// Turns a local session builder into a coordinator's: the distributed planner (after
/// segsql's own planner settings, which it wraps), the workers, the token on every request,
/// tasks routed round-robin from the first worker (the engine's default starts at a random
/// one; fixed routing makes `EXPLAIN ANALYZE` and a worker's log the same on every run), and
/// segsql's settings (the models folder) sent along with every task.
pub fn coordinator(builder: SessionStateBuilder, cluster: &Cluster) -> Result<SessionStateBuilder> {
    let workers = cluster.workers.clone();
    let routing = move |event: RouteTasksEvent| -> Option<Result<RouteTasksEventResponse>> {
        if workers.is_empty() {
            return Some(Err(DataFusionError::Configuration("--workers: the worker list is empty".into())));
        }
        let urls = (0..event.task_count).map(|i| workers[i % workers.len()].clone()).collect();
        Some(Ok(RouteTasksEventResponse::new(urls)))
    };
    let builder = builder
        .with_distributed_planner()
        .with_distributed_worker_resolver(StaticWorkers(cluster.workers.clone()))
        .with_distributed_channel_resolver(TokenChannels::new(cluster.token.as_deref())?)
        .with_distributed_route_tasks_handler(routing)
        .with_distributed_scale_up_leaf_node_handler(split::split_file_scan)
        .with_distributed_option_extension(crate::session::SegsqlOptions::default())
        .with_distributed_passthrough_headers(coordinator_dir_header())?;
    Ok(builder)
}

/// The header carrying the coordinator's working folder, against which a worker resolves a
/// relative `segsql.models_dir` (what `--models models` means on the coordinator).
pub const COORDINATOR_DIR_HEADER: &str = "x-segsql-coordinator-dir";

fn coordinator_dir_header() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let dir = std::env::current_dir().ok();
    let value = dir.and_then(|d| http::HeaderValue::from_bytes(d.to_string_lossy().as_bytes()).ok());
    if let Some(value) = value {
        headers.insert(http::HeaderName::from_static(COORDINATOR_DIR_HEADER), value);
    }
    headers
}

/// The workers a session plans across (empty for a local session).
pub fn workers_of(config: &datafusion::prelude::SessionConfig) -> Vec<Url> {
    use datafusion_distributed::DistributedGetterExt;
    config.get_distributed_worker_resolver().and_then(|r| r.get_urls()).unwrap_or_default()
}

/// True for the plan of an `EXPLAIN ANALYZE` the distributed planner ran.
pub fn is_distributed_analyze(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> bool {
    plan.name() == "DistributedAnalyzeExec"
}

/// `EXPLAIN ANALYZE` on workers: each stage's header line gains the worker each of its tasks
/// ran on (`workers={0:127.0.0.1:50051, 1:...}`, in the engine's task-keyed style). Tasks are
/// routed round-robin from the first worker (see [`coordinator`]), so task `t` of every stage
/// ran on worker `t mod n`.
pub fn name_workers(text: &str, workers: &[Url]) -> String {
    if workers.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 256);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        let tasks = line
            .split_once("── tasks=")
            .filter(|(head, _)| head.contains("Stage "))
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(tasks) = tasks {
            let list: Vec<String> =
                (0..tasks).map(|t| format!("{t}:{}", address(&workers[t % workers.len()]))).collect();
            out.push_str(&format!(" workers={{{}}}", list.join(", ")));
        }
    }
    out
}

/// Constant-time equality of two secrets (of their SHA-256, so the length does not leak either).
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// The `Authorization` value for a token, marked sensitive so it never shows in debug output.
pub(crate) fn bearer(token: &str) -> Result<http::HeaderValue, DataFusionError> {
    let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| DataFusionError::Configuration("the worker token must be printable ASCII".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_worker_lists() {
        let cluster = Cluster::parse("127.0.0.1:5001, localhost:5002", None).expect("valid");
        assert_eq!(cluster.workers.iter().map(address).collect::<Vec<_>>(), ["127.0.0.1:5001", "localhost:5002"]);
        assert!(Cluster::parse("", None).unwrap_err().contains("empty list"));
        assert!(Cluster::parse("127.0.0.1", None).unwrap_err().contains("is not HOST:PORT"));
        assert!(Cluster::parse("127.0.0.1:0", None).unwrap_err().contains("is not HOST:PORT"));
        assert!(Cluster::parse("a:1,a:1", None).unwrap_err().contains("listed twice"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let cluster = Cluster::parse("127.0.0.1:5001", Some("s3cret-token".into())).expect("valid");
        assert!(!format!("{cluster:?}").contains("s3cret"));
    }

    #[test]
    fn explain_lines_name_each_tasks_worker() {
        let cluster = Cluster::parse("127.0.0.1:5001,127.0.0.1:5002", None).expect("valid");
        let text = "┌───── DistributedExec ── a=1\n  ┌───── Stage 2 ── tasks=3, partitions=3 x={0:1}\n  │ Sort";
        let named = name_workers(text, &cluster.workers);
        assert_eq!(
            named,
            "┌───── DistributedExec ── a=1\n  ┌───── Stage 2 ── tasks=3, partitions=3 x={0:1} \
             workers={0:127.0.0.1:5001, 1:127.0.0.1:5002, 2:127.0.0.1:5001}\n  │ Sort"
        );
        assert_eq!(name_workers(text, &[]), text);
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
