//! How a coordinator (and a worker reading another worker's shuffle output) reaches a worker:
//! one gRPC channel per worker, made once with a bounded connect time, the shared token on
//! every request, and every error prefixed with the worker's address so a failed query says
//! which machine failed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_distributed::grpc::{BoxCloneSyncChannel, create_worker_client};
use datafusion_distributed::{
    ChannelResolver, CoordinatorToWorkerMsg, ExecuteTaskRequest, GetWorkerInfoRequest, GetWorkerInfoResponse,
    SetPlanRequest, WorkerChannel, WorkerToCoordinatorMsg,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::HeaderMap;
use parking_lot::Mutex;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;
use url::Url;

use super::{address, bearer};

/// The header the token travels in (checked by the worker on every request).
pub const AUTH_HEADER: http::HeaderName = http::header::AUTHORIZATION;

/// How long a coordinator waits for a worker to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A worker that stops answering HTTP/2 pings this long is treated as gone, so a query
/// whose worker's machine vanished fails instead of waiting on a half-open connection.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// segsql's [`ChannelResolver`]: cached channels with the token, errors naming the worker.
#[derive(Clone)]
pub struct TokenChannels {
    token: Option<http::HeaderValue>,
    channels: Arc<Mutex<HashMap<Url, BoxCloneSyncChannel>>>,
}

impl TokenChannels {
    pub fn new(token: Option<&str>) -> Result<TokenChannels> {
        Ok(TokenChannels { token: token.map(bearer).transpose()?, channels: Arc::default() })
    }

    async fn channel(&self, url: &Url) -> Result<BoxCloneSyncChannel> {
        if let Some(channel) = self.channels.lock().get(url) {
            return Ok(channel.clone());
        }
        // Connected outside the lock: a worker that does not answer must not hold up queries
        // to the others. Two tasks racing here both connect; the first channel stored wins.
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| DataFusionError::Configuration(format!("worker {}: {e}", address(url))))?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(KEEPALIVE)
            .keep_alive_while_idle(true);
        let channel: Channel = endpoint.connect().await.map_err(|e| {
            DataFusionError::Execution(format!(
                "worker {} is not reachable ({}); is `segsql worker --listen {}` running?",
                address(url),
                source_text(&e),
                address(url)
            ))
        })?;
        // A failed connection is never cached: the next query tries again. A stored channel
        // reconnects by itself when its worker comes back.
        let channel = match &self.token {
            None => BoxCloneSyncChannel::new(channel),
            Some(token) => {
                let token = token.clone();
                BoxCloneSyncChannel::new(channel.map_request(move |mut request: http::Request<tonic::body::Body>| {
                    request.headers_mut().insert(AUTH_HEADER, token.clone());
                    request
                }))
            }
        };
        Ok(self.channels.lock().entry(url.clone()).or_insert(channel).clone())
    }
}

/// The innermost cause of a transport error ("Connection refused"), not tonic's wrapper text.
fn source_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[async_trait]
impl ChannelResolver for TokenChannels {
    async fn get_worker_client_for_url(&self, url: &Url) -> Result<Box<dyn WorkerChannel>> {
        let channel = self.channel(url).await?;
        Ok(Box::new(NamedChannel { worker: address(url), inner: create_worker_client(channel) }))
    }
}

/// A worker client whose errors start with the worker's address.
struct NamedChannel {
    worker: String,
    inner: Box<dyn WorkerChannel>,
}

/// A worker that failed reading another worker's output reports "worker B: ...", which
/// reaches the coordinator as "worker A: worker B: ...": the path of the failure.
fn named(worker: &str, error: DataFusionError) -> DataFusionError {
    DataFusionError::Context(format!("worker {worker}"), Box::new(error))
}

#[async_trait]
impl WorkerChannel for NamedChannel {
    async fn coordinator_channel(
        &mut self,
        headers: HeaderMap,
        set_plan_request: SetPlanRequest,
        c2w_stream: BoxStream<'static, CoordinatorToWorkerMsg>,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<BoxStream<'static, Result<WorkerToCoordinatorMsg>>> {
        let worker = self.worker.clone();
        let stream = self
            .inner
            .coordinator_channel(headers, set_plan_request, c2w_stream, metrics, task_ctx)
            .await
            .map_err(|e| named(&worker, e))?;
        Ok(stream.map_err(move |e| named(&worker, e)).boxed())
    }

    async fn execute_task(
        &mut self,
        headers: HeaderMap,
        request: ExecuteTaskRequest,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<Vec<BoxStream<'static, Result<RecordBatch>>>> {
        let worker = self.worker.clone();
        let streams =
            self.inner.execute_task(headers, request, metrics, task_ctx).await.map_err(|e| named(&worker, e))?;
        Ok(streams
            .into_iter()
            .map(|stream| {
                let worker = worker.clone();
                stream.map_err(move |e| named(&worker, e)).boxed()
            })
            .collect())
    }

    async fn get_worker_info(&mut self, request: GetWorkerInfoRequest) -> Result<GetWorkerInfoResponse> {
        let worker = self.worker.clone();
        self.inner.get_worker_info(request).await.map_err(|e| named(&worker, e))
    }
}
