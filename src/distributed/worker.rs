//! `segsql worker`: a datafusion-distributed worker with every segsql function.
//!
//! The engine builds a session per task from [`WorkerQueryContext`]'s builder, decodes the
//! stage plan in it and looks functions up by name, so the session gets segsql's functions
//! (added to the built-ins: the builder's `with_*_functions` would replace them), the
//! coordinator's `segsql.*` settings from the request headers, the token-checking channels
//! (tasks read other workers' shuffle output), and the worker's own memory pool, which
//! spills to disk past `--memory-limit`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use datafusion_distributed::{
    DistributedExt, DistributedTaskContext, Worker, WorkerPlanRewriteEvent, WorkerPlanRewriteEventResponse,
    WorkerQueryContext, WorkerSessionBuilder,
};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;

use super::{AUTH_HEADER, TokenChannels, same_secret};
use crate::serve::log;
use crate::session::SegsqlOptions;

/// What `segsql worker` was asked for.
#[derive(Clone, Default)]
pub struct WorkerOptions {
    /// Bytes of memory for the worker's tasks together before sorts and aggregations spill;
    /// `None` takes three quarters of the machine's memory.
    pub memory_limit: Option<usize>,
    /// The models folder as this machine sees it; `None` uses the coordinator's setting.
    pub models_dir: Option<String>,
    /// The shared token every request must carry.
    pub token: Option<String>,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token must never reach a log or an error message.
        f.debug_struct("WorkerOptions")
            .field("memory_limit", &self.memory_limit)
            .field("models_dir", &self.models_dir)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The session builder `segsql worker` gives the engine.
#[derive(Clone)]
pub struct SegsqlWorkerSession {
    channels: TokenChannels,
    models_dir: Option<String>,
}

/// segsql's worker session builder for `options` (public for tests that start workers in
/// their own process).
pub fn worker_session_builder(options: &WorkerOptions) -> Result<SegsqlWorkerSession> {
    Ok(SegsqlWorkerSession {
        channels: TokenChannels::new(options.token.as_deref())?,
        models_dir: options.models_dir.clone(),
    })
}

#[async_trait]
impl WorkerSessionBuilder for SegsqlWorkerSession {
    async fn build_session_state(&self, ctx: WorkerQueryContext) -> Result<SessionState, DataFusionError> {
        let builder = ctx
            .builder
            .with_distributed_option_extension_from_headers::<SegsqlOptions>(&ctx.headers)?
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_worker_plan_rewrite_handler(log_task);
        let session = SessionContext::new_with_state(builder.build());
        // The worker's own --models wins; else the coordinator's folder, a relative one taken
        // from the coordinator's working folder (never the worker's: that would read other
        // models). A coordinator that does not say its folder gets a folder that names the
        // problem, so only a query that reads a model fails, and says why.
        let models_dir = match &self.models_dir {
            Some(dir) => Some(dir.clone()),
            None => {
                let dir = crate::session::models_dir(&session);
                let base = ctx
                    .headers
                    .get(super::COORDINATOR_DIR_HEADER)
                    .and_then(|v| String::from_utf8(v.as_bytes().to_vec()).ok())
                    .unwrap_or_else(|| {
                        "/(the coordinator did not say its folder: start the worker with --models)".into()
                    });
                dir.is_relative().then(|| std::path::PathBuf::from(base).join(dir).to_string_lossy().into_owned())
            }
        };
        crate::session::add_functions(&session, models_dir.as_deref());
        Ok(session.state())
    }
}

/// `-v`: one line per task the worker starts.
fn log_task(event: WorkerPlanRewriteEvent) -> Result<WorkerPlanRewriteEventResponse> {
    log::detail(|| {
        let task = event.session_config.get_extension::<DistributedTaskContext>();
        let (index, count) = task.map_or((0, 1), |t| (t.task_index, t.task_count));
        let head = displayable(event.plan.as_ref()).one_line().to_string();
        format!("task {}/{count}: {}", index + 1, head.trim_end())
    });
    Ok(WorkerPlanRewriteEventResponse::new(event.plan))
}

/// The worker's runtime: a bounded pool (so sorts and aggregations spill) and the default
/// disk manager (the system's temporary folder).
fn runtime(options: &WorkerOptions) -> Result<Arc<RuntimeEnv>> {
    let limit = options.memory_limit.unwrap_or_else(default_memory_limit);
    let pool = TrackConsumersPool::new(FairSpillPool::new(limit), NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN));
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(crate::data::s3::LakeRegistry::default()))
        .with_memory_pool(Arc::new(pool))
        .build_arc()
}

/// Three quarters of the memory the worker may use: the machine's, or its container's
/// (cgroup v2 `memory.max`) when that is smaller; 4 GiB when neither can be read.
fn default_memory_limit() -> usize {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
            .map(|kib| kib * 1024)
    });
    // "max" (no limit) does not parse and leaves the machine's figure.
    let container =
        std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|t| t.trim().parse::<usize>().ok());
    match (machine, container) {
        (Some(m), Some(c)) => m.min(c) / 4 * 3,
        (Some(total), None) | (None, Some(total)) => total / 4 * 3,
        (None, None) => 4 << 30,
    }
}

/// Runs a worker on `listener` until `shutdown` resolves. `session` is what tasks run in
/// ([`worker_session_builder`] for segsql's; tests pass a bare one as a negative control).
pub async fn serve_worker<B>(
    listener: TcpListener,
    options: &WorkerOptions,
    session: B,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String>
where
    B: WorkerSessionBuilder + Send + Sync + 'static,
{
    let runtime = runtime(options).map_err(|e| format!("worker: {e}"))?;
    let worker = Worker::from_session_builder(session).with_runtime_env(runtime);
    // A stage's plan lives in the worker's task cache (moka) until the coordinator's channel
    // for it closes; the cache then invalidates it, but moka frees an invalidated value only
    // at its next housekeeping, which runs on later cache calls. Until then the plan keeps
    // its hash shuffle's input tasks running: a query whose coordinator was stopped would go
    // on computing to its end on an idle worker. Housekeeping every 250 ms frees such plans
    // and so aborts their tasks.
    // Aborted when the worker stops (dropped with this function's frame).
    let _sweeper = {
        let worker = worker.clone();
        SpawnedTask::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                tick.tick().await;
                worker.tasks_running().await;
            }
        })
    };
    let token = options.token.clone();
    let check = move |request: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> {
        let Some(token) = &token else { return Ok(request) };
        let given = request.metadata().get(AUTH_HEADER.as_str()).and_then(|v| v.to_str().ok());
        match given.and_then(|v| v.strip_prefix("Bearer ")) {
            Some(given) if same_secret(given.as_bytes(), token.as_bytes()) => Ok(request),
            Some(_) => {
                log::detail(|| "refused a request with a wrong token".into());
                Err(tonic::Status::unauthenticated(
                    "the worker refused the token; give the coordinator the same token as the worker (--token-env)",
                ))
            }
            None => {
                log::detail(|| "refused a request without a token".into());
                Err(tonic::Status::unauthenticated(
                    "the worker needs a token; set it in the coordinator's environment and pass --token-env",
                ))
            }
        }
    };
    let service = InterceptedService::new(worker.into_worker_server(), check);
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    // Keep-alive pings find a coordinator whose machine vanished without closing its
    // connections, so its tasks are dropped instead of waiting for the OS to give up.
    let server = Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .tcp_keepalive(Some(std::time::Duration::from_secs(30)))
        .add_service(service)
        .serve_with_incoming(incoming);
    // A stop signal ends the worker at once: the coordinator of a running query sees the
    // connection close and fails the query naming this worker.
    tokio::select! {
        result = server => result.map_err(|e| format!("worker: {e}")),
        () = shutdown => Ok(()),
    }
}

/// Binds `listen` (HOST:PORT); a non-loopback address needs a token.
pub async fn bind(listen: &str, token: Option<&str>) -> Result<(TcpListener, SocketAddr), String> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| format!("worker: --listen {listen}: {e} (expected HOST:PORT, e.g. 127.0.0.1:50051)"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("worker: --listen {listen}: the name resolves to no address"));
    }
    if token.is_none() && addresses.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "worker: listening on {listen} without a token would let anyone who can reach it run plans and read \
             the data it can read; set a token with --token-env VAR (the coordinator passes the same), or listen \
             on 127.0.0.1"
        ));
    }
    let listener =
        TcpListener::bind(addresses.as_slice()).await.map_err(|e| format!("worker: cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("worker: {e}"))?;
    Ok((listener, local))
}
