//! What every connection shares: the setup session, the catalog, the parameters, the
//! password check and the cancel registry; and the handlers pgwire calls for one connection.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::num::NonZeroUsize;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::CatalogProviderList;
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::{PgCatalogSchemaProvider, PgCatalogStaticTables};
use datafusion_postgres::pgwire;
use futures::Sink;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{
    ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::watch;

use super::catalog::ConnectionCatalogs;
use super::handler::Connection;
use super::{compat, log};
use crate::data::folder::DataSchema;

/// The catalog the server answers for, whatever database name a client asks for.
pub const CATALOG: &str = "datafusion";

/// SCRAM's iteration count, PostgreSQL's default.
const SCRAM_ITERATIONS: usize = 4096;

/// The user and password `--user` and `--password-env` set.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?}, password: <hidden> }}", self.user)
    }
}

/// What the connections share.
pub struct Server {
    base: SessionContext,
    data: Arc<DataSchema>,
    params: BTreeMap<String, String>,
    memory_limit: Option<usize>,
    credentials: Option<Credentials>,
    static_tables: Arc<PgCatalogStaticTables>,
    auth: Arc<AuthManager>,
    connections: Arc<ConnectionManager>,
    /// One backend-id generator for every connection: the cancel request names a connection
    /// by its id, so ids must not repeat (pgwire's SASL handler starts a counter per handler).
    pids: Arc<RandomPidSecretKeyGenerator>,
    cancels: parking_lot::Mutex<HashMap<i32, Arc<watch::Sender<u64>>>>,
}

impl Server {
    /// Takes the session the setup scripts ran in; its catalog becomes the shared one.
    pub fn new(
        base: SessionContext,
        data: Arc<DataSchema>,
        params: BTreeMap<String, String>,
        memory_limit: Option<usize>,
        credentials: Option<Credentials>,
    ) -> Result<Server> {
        compat::register(&base);
        let auth = Arc::new(AuthManager::new());
        // `pg_catalog`'s functions, type names and `generate_series` widening go into the
        // shared state; each connection gets its own `pg_catalog` tables (below), so `\d`
        // lists the views it created itself.
        datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog(&base, CATALOG, auth.as_ref().clone())
            .map_err(|e| *e)?;
        let static_tables = Arc::new(PgCatalogStaticTables::try_new()?);
        Ok(Server {
            base,
            data,
            params,
            memory_limit,
            credentials,
            static_tables,
            auth,
            connections: Arc::new(ConnectionManager::new()),
            pids: Arc::new(RandomPidSecretKeyGenerator::default()),
            cancels: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    pub fn data(&self) -> Arc<DataSchema> {
        Arc::clone(&self.data)
    }

    pub fn cancels(&self) -> &parking_lot::Mutex<HashMap<i32, Arc<watch::Sender<u64>>>> {
        &self.cancels
    }

    /// A session of its own for one connection: the shared functions, settings and tables,
    /// its own `SET`s and created views, and its own memory pool of `--memory-limit`.
    pub fn connection_context(&self) -> Result<SessionContext> {
        let base = self.base.state();
        let catalogs = Arc::new(ConnectionCatalogs::new(Arc::clone(base.catalog_list()), CATALOG)?);
        let shared_runtime = base.runtime_env();
        let runtime = match self.memory_limit {
            Some(limit) => Arc::new(RuntimeEnv {
                memory_pool: Arc::new(TrackConsumersPool::new(
                    FairSpillPool::new(limit),
                    NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
                )),
                disk_manager: Arc::clone(&shared_runtime.disk_manager),
                cache_manager: Arc::clone(&shared_runtime.cache_manager),
                object_store_registry: Arc::clone(&shared_runtime.object_store_registry),
            }),
            None => Arc::clone(shared_runtime),
        };
        let state = SessionStateBuilder::new_from_existing(base)
            .with_catalog_list(Arc::clone(&catalogs) as Arc<dyn CatalogProviderList>)
            .with_runtime_env(runtime)
            .build();
        let pg_catalog = PgCatalogSchemaProvider::try_new(
            Arc::clone(&catalogs) as Arc<dyn CatalogProviderList>,
            Arc::clone(&self.static_tables),
            self.auth.as_ref().clone(),
        )?;
        catalogs.default_catalog().register_schema("pg_catalog", Arc::new(pg_catalog))?;
        Ok(SessionContext::new_with_state(state))
    }

    /// The handlers for one accepted connection.
    pub fn handlers(self: &Arc<Server>, peer: String) -> Result<Handlers> {
        let connection = Arc::new(Connection::new(Arc::clone(self), peer.clone())?);
        let startup = match &self.credentials {
            None => Startup::Open(OpenStartup {
                connections: Arc::clone(&self.connections),
                pids: Arc::clone(&self.pids),
                peer,
            }),
            Some(credentials) => {
                let mut parameters = DefaultServerParameterProvider::default();
                parameters.server_version = compat::PG_VERSION.to_string();
                let mut scram = ScramAuth::new(Arc::new(PasswordCheck(credentials.clone())));
                scram.set_iterations(SCRAM_ITERATIONS);
                Startup::Password {
                    inner: SASLAuthStartupHandler::new(Arc::new(parameters))
                        .with_scram(scram)
                        .with_connection_manager(Arc::clone(&self.connections))
                        .with_pid_secret_key_generator(Arc::clone(&self.pids) as Arc<dyn PidSecretKeyGenerator>),
                    peer,
                }
            }
        };
        Ok(Handlers { connection, startup: Arc::new(startup), cancel: Arc::new(Cancel { server: Arc::clone(self) }) })
    }
}

impl Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("credentials", &self.credentials).finish_non_exhaustive()
    }
}

/// The one password `--user` and `--password-env` name, salted for SCRAM on each login.
#[derive(Debug)]
struct PasswordCheck(Credentials);

#[async_trait]
impl AuthSource for PasswordCheck {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        let salt: [u8; 16] = rand::random();
        let password = if user == self.0.user {
            self.0.password.clone()
        } else {
            // As PostgreSQL does: an unknown user goes through the whole exchange against a
            // password no one knows, so the answer does not tell which user names exist.
            log::line(&format!("{}: login refused: unknown user {user:?}", login.host()));
            format!("{:032x}", rand::random::<u128>())
        };
        let salted = gen_salted_password(&password, &salt, SCRAM_ITERATIONS);
        Ok(Password::new(Some(salt.to_vec()), salted))
    }
}

/// The startup of a connection: no password (loopback only) or SCRAM-SHA-256.
pub enum Startup {
    Open(OpenStartup),
    Password { inner: SASLAuthStartupHandler<DefaultServerParameterProvider>, peer: String },
}

pub struct OpenStartup {
    connections: Arc<ConnectionManager>,
    pids: Arc<RandomPidSecretKeyGenerator>,
    peer: String,
}

#[async_trait]
impl NoopStartupHandler for OpenStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }

    fn pid_secret_key_generator(&self) -> &dyn PidSecretKeyGenerator {
        self.pids.as_ref()
    }

    async fn post_startup<C>(&self, client: &mut C, _message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        log::detail(|| format!("{}: connected: {}", self.peer, who(client)));
        Ok(())
    }
}

/// `user=... database=... application_name=...` of a client's startup message.
fn who<C: ClientInfo + ?Sized>(client: &C) -> String {
    let metadata = client.metadata();
    let get = |key: &str| metadata.get(key).map(String::as_str).unwrap_or("");
    format!("user={} database={} application_name={}", get("user"), get("database"), get("application_name"))
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Open(open) => open.on_startup(client, message).await,
            Startup::Password { inner, peer } => {
                let result = inner.on_startup(client, message).await;
                match &result {
                    Err(error) => log::line(&format!("{peer}: login failed: {error}")),
                    Ok(()) if matches!(client.state(), pgwire::api::PgWireConnectionState::ReadyForQuery) => {
                        log::detail(|| format!("{peer}: connected: {}", who(client)))
                    }
                    Ok(()) => {}
                }
                result
            }
        }
    }
}

/// A cancel request: pgwire stops the statement still being planned or computing its first
/// row, and the connection's watch stops the rows after it.
pub struct Cancel {
    server: Arc<Server>,
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let known = self.server.connections.cancel(request.pid, &request.secret_key).await;
        log::detail(|| {
            format!("cancel request for backend {} ({})", request.pid, if known { "sent" } else { "unknown" })
        });
        if known && let Some(watch) = self.server.cancels.lock().get(&request.pid) {
            watch.send_modify(|generation| *generation += 1);
        }
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        log::detail(|| format!("{}: error: {error}", client.socket_addr()));
    }
}

/// What pgwire calls for one connection.
pub struct Handlers {
    connection: Arc<Connection>,
    startup: Arc<Startup>,
    cancel: Arc<Cancel>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.connection)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.connection)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}
