//! `segsql serve`: the shell's SQL over the PostgreSQL wire protocol, for BI tools and
//! notebooks. Built on `datafusion-postgres` (its pgwire, `pg_catalog` and Arrow encoding);
//! the listener, per-connection sessions, passwords, TLS and cancel are ours (docs/serve.md).

mod catalog;
mod compat;
mod handler;
pub mod log;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion_postgres::pgwire;
use pgwire::tokio::tokio_rustls::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use compat::version_text;
pub use server::Credentials;

use crate::error::ShellError;
use crate::script::{Flow, Shell};
use crate::session::SessionOptions;

/// What `segsql serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
    /// `--tls-cert` and `--tls-key` (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub session: SessionOptions,
    pub data: Vec<PathBuf>,
    pub setup: Vec<PathBuf>,
    pub params: Vec<(String, String)>,
}

/// True for an address only this machine can reach.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks the options that need no work: a password for a non-loopback address.
pub fn check(options: &ServeOptions) -> Result<(), String> {
    if options.credentials.is_none() && !is_loopback(&options.host) {
        return Err(format!(
            "serve: listening on {} without a password would let anyone who can reach it read the data; \
             give --user NAME --password-env VAR, or listen on 127.0.0.1",
            options.host
        ));
    }
    Ok(())
}

/// Builds the shared session: `--param`s, `--data` folders, then the setup scripts.
async fn setup(options: &ServeOptions) -> Result<Shell, ShellError> {
    // The memory limit is each connection's (server.rs); the setup session has none.
    let session = SessionOptions { memory_limit: None, ..options.session.clone() };
    let mut shell = Shell::new(&session).map_err(ShellError::from)?;
    shell.set_sink(crate::output::Sink::Memory(Vec::new()));
    for (name, value) in &options.params {
        shell.set_param(name, value)?;
    }
    for dir in &options.data {
        shell.load_dir(dir)?;
    }
    for file in &options.setup {
        // Results of the setup's queries are not shown; its errors are, with their lines.
        shell.set_sink(crate::output::Sink::Memory(Vec::new()));
        if matches!(shell.run_file(file).await?, Flow::Quit) {
            break;
        }
        if shell.failures() > 0 {
            return Err(ShellError::Reported);
        }
    }
    shell.set_sink(crate::output::Sink::Memory(Vec::new()));
    Ok(shell)
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("serve: --tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("serve: --tls-cert {}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("serve: --tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| format!("serve: the TLS certificate and key do not work together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Runs the server until `shutdown` resolves; returns the message of what stopped it early.
pub async fn run(options: ServeOptions, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ShellError> {
    check(&options).map_err(ShellError::Message)?;
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key).map_err(ShellError::Message)?),
        None => None,
    };
    let shell = setup(&options).await?;
    let params: BTreeMap<String, String> = shell.params().clone();
    let server = Arc::new(
        server::Server::new(
            shell.context().clone(),
            shell.data_schema(),
            params,
            options.session.memory_limit,
            options.credentials.clone(),
        )
        .map_err(ShellError::from)?,
    );
    let address = format!("{}:{}", options.host, options.port);
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| ShellError::Message(format!("serve: cannot listen on {address}: {e}")))?;
    let local: SocketAddr = listener.local_addr()?;
    // The one line on stdout: scripts and tests read the port from it (with --port 0).
    println!("segsql serve: listening on {local}{}", if tls.is_some() { " (TLS)" } else { "" });
    log::detail(|| {
        format!("password: {}", if options.credentials.is_some() { "required (SCRAM-SHA-256)" } else { "none" })
    });
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        log::line(&format!("accept failed: {error}"));
                        continue;
                    }
                };
                let handlers = match server.handlers(peer.to_string()) {
                    Ok(handlers) => handlers,
                    Err(error) => {
                        log::line(&format!("{peer}: cannot start a session: {error}"));
                        continue;
                    }
                };
                let tls = tls.clone();
                connections.spawn(async move {
                    if let Err(error) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                        log::detail(|| format!("{peer}: connection ended: {error}"));
                    }
                });
            }
            // Reap finished connections so the set does not grow with every client.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let open = connections.len();
    connections.shutdown().await;
    log::line(&format!("segsql serve: stopped ({open} open connection{} closed)", if open == 1 { "" } else { "s" }));
    Ok(())
}

/// Resolves at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
