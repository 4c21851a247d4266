//! Command-line flags and the top-level flow: scripts, `-c`, stdin or the REPL.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::data::sample::{self, GenerateRequest, generator::GeneratorConfig};
use crate::error::{ShellError, user_message};
use crate::output::Format;
use crate::output::Sink;
use crate::runlog::RunLog;
use crate::script::{Flow, Origin, Shell};
use crate::session::SessionOptions;

/// Exit codes scripts can rely on.
pub mod exit {
    /// Every statement succeeded.
    pub const OK: u8 = 0;
    /// A statement or meta command failed.
    pub const STATEMENT_FAILED: u8 = 1;
    /// The invocation was wrong: a bad flag, an unreadable script, a missing data folder.
    pub const USAGE: u8 = 2;
}

const EXAMPLES: &str = "\
Examples:
  segsql                                      open the REPL (sample data in sample.*)
  segsql -f queries/00_tour.sql               run a report script on the sample data
  segsql --data lake/ -f report.sql --param as_of=2025-06-30
  segsql -c \"SELECT count(*) FROM sample.orders\" --format csv
  echo \"SELECT 1;\" | segsql --format json
  segsql generate --customers 1600000 --out data/big
  segsql serve -f queries/_setup.sql          serve the same SQL to BI tools on 127.0.0.1:5433
  segsql worker --listen 127.0.0.1:50051      a worker; then: segsql --workers 127.0.0.1:50051 -f report.sql

Exit codes: 0 success, 1 a statement failed, 2 bad invocation or unreadable input.";

#[derive(Debug, Parser)]
#[command(name = "segsql", version, about = "Customer segmentation in SQL, on Apache DataFusion", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Run the SQL script FILE (repeatable; with -c, in the order given)
    #[arg(short = 'f', long = "file", value_name = "FILE", global = true)]
    pub files: Vec<PathBuf>,

    /// Run SQL (repeatable; with -f, in the order given)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,

    /// Set ${NAME} for the scripts (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param, global = true)]
    pub params: Vec<(String, String)>,

    /// Register every Parquet/CSV/JSON file and partitioned folder in DIR as a table (repeatable)
    #[arg(long = "data", value_name = "DIR", global = true)]
    pub data: Vec<PathBuf>,

    /// How to print results
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Rows shown by the table format (`all` for every row)
    #[arg(long, value_name = "N|all", value_parser = parse_maxrows, default_value = "40")]
    pub maxrows: MaxRows,

    /// Write results to FILE instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write every result, with the charts its `-- @chart` annotations ask for, to FILE
    /// as one self-contained HTML page
    #[arg(long = "html", value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Folder of saved models (CREATE MODEL)
    #[arg(long = "models", value_name = "DIR", default_value = "models", global = true)]
    pub models: PathBuf,

    /// Memory for sorts, joins and aggregations before they spill to disk, e.g. 4G or 512M
    #[arg(long, value_name = "SIZE", value_parser = parse_size, global = true)]
    pub memory_limit: Option<usize>,

    /// Threads to run queries on (default: all cores); results do not depend on it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Plan queries across these `segsql worker`s: HOST:PORT,HOST:PORT (default
    /// $SEGSQL_WORKERS); answers are the same as a local run
    #[arg(long, value_name = "HOST:PORT,...", global = true)]
    pub workers: Option<String>,

    /// The environment variable holding the token workers and coordinators share (default:
    /// SEGSQL_WORKER_TOKEN when set)
    #[arg(long, value_name = "VAR", global = true)]
    pub token_env: Option<String>,

    /// Append one JSON line describing this run (scripts, inputs, exports, models, exit
    /// code) to FILE when it ends; read the log back with --data
    #[arg(long = "run-log", value_name = "FILE")]
    pub run_log: Option<PathBuf>,

    /// Keep running a script after a failed statement (the exit code is still 1)
    #[arg(long)]
    pub continue_on_error: bool,

    /// No banner or status lines
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the sample dataset as Parquet, at any scale
    Generate {
        /// Number of customers (about 6 orders and 40 events each)
        #[arg(long, default_value_t = sample::SAMPLE_CUSTOMERS)]
        customers: u64,
        /// Output folder
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Random seed; the same seed gives the same files
        #[arg(long, default_value_t = sample::DEFAULT_SEED)]
        seed: u64,
        /// Tables to write, comma-separated
        #[arg(long, value_delimiter = ',', default_value = "customers,orders,events,marketing_spend")]
        tables: Vec<String>,
        /// Threads to generate with (default: all cores); the files do not depend on it
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Serve the same SQL over the PostgreSQL wire protocol (psql, BI tools, notebooks);
    /// --data, --models, -f (setup scripts), --param and --memory-limit (per query) apply,
    /// and --threads given before `serve`
    Serve {
        /// Address to listen on; anything but loopback needs --user and --password-env
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0 picks a free one; the address is printed on stdout)
        #[arg(long, default_value_t = 5433)]
        port: u16,
        /// The user clients log in as (with --password-env; SCRAM-SHA-256)
        #[arg(long, value_name = "NAME", requires = "password_env")]
        user: Option<String>,
        /// The environment variable holding the password (never a flag: it would show in ps)
        #[arg(long, value_name = "VAR", requires = "user")]
        password_env: Option<String>,
        /// TLS certificate (PEM), with --tls-key
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM, PKCS#8 or RSA), with --tls-cert
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Log connections and statements on stderr (never passwords)
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run a worker that coordinators (`segsql --workers`) send query stages to;
    /// --memory-limit, --models and --token-env apply
    Worker {
        /// Address to listen on (port 0 picks a free one; the address is printed on stdout);
        /// anything but loopback needs a token (--token-env)
        #[arg(long, value_name = "HOST:PORT")]
        listen: String,
        /// Log each task and every refused request on stderr
        #[arg(short, long)]
        verbose: bool,
    },
}

/// `--maxrows`: a number, or all rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxRows(pub Option<usize>);

fn parse_maxrows(text: &str) -> Result<MaxRows, String> {
    match text {
        "all" | "inf" | "0" => Ok(MaxRows(None)),
        n => n.parse().map(|n| MaxRows(Some(n))).map_err(|_| format!("expected a number or all, got '{n}'")),
    }
}

/// `NAME=VALUE`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got '{text}'"))?;
    if !crate::script::params::is_valid_name(name) {
        return Err(format!("'{name}' is not a parameter name; use letters, digits and _"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// `4G`, `512M`, `1.5GB`, `1000000` (bytes).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let upper = text.trim().to_uppercase();
    let number_end = upper.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(upper.len());
    let (number, unit) = upper.split_at(number_end);
    let value: f64 = number.parse().map_err(|_| format!("expected a size such as 4G or 512M, got '{text}'"))?;
    let scale: f64 = match unit.trim().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown size unit in '{text}': use K, M, G or T")),
    };
    let bytes = value * scale;
    if bytes < 1.0 {
        return Err(format!("memory limit '{text}' is too small"));
    }
    Ok(bytes as usize)
}

/// `segsql serve`: the flags into options, the server until Ctrl-C or SIGTERM.
async fn serve(cli: &Cli, matches: &ArgMatches) -> ExitCode {
    let Some(Command::Serve { host, port, user, password_env, tls_cert, tls_key, verbose }) = &cli.command else {
        return usage_error("serve: internal error: not a serve command");
    };
    if !cli.commands.is_empty() {
        return usage_error("serve: -c runs a statement and exits; put setup statements in a file for -f");
    }
    let credentials = match (user, password_env) {
        (Some(user), Some(var)) => match std::env::var(var) {
            Ok(password) if !password.is_empty() => Some(crate::serve::Credentials { user: user.clone(), password }),
            _ => {
                return usage_error(format!(
                    "serve: --password-env {var}: the environment variable is not set or empty"
                ));
            }
        },
        _ => None,
    };
    let setup: Vec<PathBuf> = jobs_in_order(cli, matches)
        .into_iter()
        .filter_map(|job| match job {
            Job::File(path) => Some(path),
            Job::Command(_) => None,
        })
        .collect();
    for path in &setup {
        if let Err(message) = crate::script::read_script(path) {
            return usage_error(message);
        }
    }
    let cluster = match cluster(cli) {
        Ok(cluster) => cluster,
        Err(message) => return usage_error(message),
    };
    crate::serve::log::set_verbose(*verbose);
    let options = crate::serve::ServeOptions {
        host: host.clone(),
        port: *port,
        credentials,
        tls: tls_cert.clone().zip(tls_key.clone()),
        session: SessionOptions {
            threads: cli.threads.map(usize::from),
            memory_limit: cli.memory_limit,
            models_dir: cli.models.clone(),
            cluster,
        },
        data: cli.data.clone(),
        setup,
        params: cli.params.clone(),
    };
    if let Err(message) = crate::serve::check(&options) {
        return usage_error(message);
    }
    match crate::serve::run(options, crate::serve::shutdown_signal()).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(ShellError::Reported) => ExitCode::from(exit::STATEMENT_FAILED),
        Err(ShellError::OutputClosed) => ExitCode::from(exit::OK),
        Err(ShellError::Message(message)) => usage_error(message),
    }
}

/// The token from `--token-env VAR`, else from `SEGSQL_WORKER_TOKEN` when it is set.
fn worker_token(cli: &Cli) -> Result<Option<String>, String> {
    match &cli.token_env {
        Some(var) => match std::env::var(var) {
            Ok(token) if !token.is_empty() => Ok(Some(token)),
            _ => Err(format!("--token-env {var}: the environment variable is not set or empty")),
        },
        None => Ok(std::env::var(crate::distributed::DEFAULT_TOKEN_ENV).ok().filter(|t| !t.is_empty())),
    }
}

/// `--workers` (or `SEGSQL_WORKERS`) with the token.
fn cluster(cli: &Cli) -> Result<Option<crate::distributed::Cluster>, String> {
    let list = match &cli.workers {
        Some(list) => list.clone(),
        None => match std::env::var(crate::distributed::WORKERS_ENV) {
            Ok(list) if !list.trim().is_empty() => list,
            _ => return Ok(None),
        },
    };
    crate::distributed::Cluster::parse(&list, worker_token(cli)?).map(Some)
}

/// `segsql worker`: listen, print the address, run stages until Ctrl-C or SIGTERM.
async fn worker(cli: &Cli, matches: &ArgMatches) -> ExitCode {
    let Some(Command::Worker { listen, verbose }) = &cli.command else {
        return usage_error("worker: internal error: not a worker command");
    };
    if !cli.commands.is_empty() || !cli.files.is_empty() || !cli.data.is_empty() || !cli.params.is_empty() {
        return usage_error(
            "worker: runs the stages coordinators send it; give -f, -c, --data and --param to the coordinator",
        );
    }
    if cli.workers.is_some() {
        return usage_error("worker: --workers is the coordinator's flag; a worker takes --listen");
    }
    let token = match worker_token(cli) {
        Ok(token) => token,
        Err(message) => return usage_error(message),
    };
    crate::serve::log::set_verbose(*verbose);
    // An explicit --models is this machine's path to the shared folder; otherwise each task
    // uses the coordinator's.
    let explicit = |m: &ArgMatches| m.value_source("models") == Some(clap::parser::ValueSource::CommandLine);
    let models_explicit = explicit(matches) || matches.subcommand_matches("worker").is_some_and(explicit);
    let options = crate::distributed::WorkerOptions {
        memory_limit: cli.memory_limit,
        models_dir: models_explicit.then(|| cli.models.to_string_lossy().into_owned()),
        token,
    };
    let (listener, address) = match crate::distributed::bind(listen, options.token.as_deref()).await {
        Ok(bound) => bound,
        Err(message) => return usage_error(message),
    };
    let session = match crate::distributed::worker_session_builder(&options) {
        Ok(session) => session,
        Err(e) => return usage_error(format!("worker: {}", user_message(&e))),
    };
    println!("segsql worker: listening on {address}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match crate::distributed::serve_worker(listener, &options, session, crate::serve::shutdown_signal()).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(message) => {
            eprintln!("segsql: error: {message}");
            ExitCode::from(exit::STATEMENT_FAILED)
        }
    }
}

/// One thing to run, in command-line order.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    File(PathBuf),
    Command(String),
}

/// The `-f` and `-c` arguments in the order they were given.
fn jobs_in_order(cli: &Cli, matches: &ArgMatches) -> Vec<Job> {
    let mut jobs: Vec<(usize, Job)> = Vec::new();
    if let Some(indices) = matches.indices_of("files") {
        jobs.extend(indices.zip(cli.files.iter()).map(|(i, f)| (i, Job::File(f.clone()))));
    }
    if let Some(indices) = matches.indices_of("commands") {
        jobs.extend(indices.zip(cli.commands.iter()).map(|(i, c)| (i, Job::Command(c.clone()))));
    }
    jobs.sort_by_key(|(index, _)| *index);
    jobs.into_iter().map(|(_, job)| job).collect()
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("segsql: error: {message}");
    ExitCode::from(exit::USAGE)
}

/// The whole program; `main.rs` only calls this.
pub fn main() -> ExitCode {
    // A bug must not greet the user with a Rust backtrace: one line says what and where, and
    // the code that caught the panic reports the failure and the exit code.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!(
            "segsql: internal error{location}: {}; please report this bug",
            crate::error::panic_message(info.payload())
        );
    }));
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let threads = cli.threads.map(usize::from);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(e) => return usage_error(format!("cannot start: {e}")),
    };
    let code = runtime.block_on(run(cli, matches));
    // Do not wait for tasks of a cancelled query that are still unwinding.
    runtime.shutdown_background();
    code
}

async fn run(cli: Cli, matches: ArgMatches) -> ExitCode {
    if let Some(Command::Generate { customers, out, seed, tables, threads }) = cli.command {
        return generate(customers, out, seed, tables, threads.or(cli.threads.map(usize::from)));
    }
    if let Some(Command::Serve { .. }) = &cli.command {
        return serve(&cli, &matches).await;
    }
    if let Some(Command::Worker { .. }) = &cli.command {
        return worker(&cli, &matches).await;
    }
    let jobs = jobs_in_order(&cli, &matches);
    // Read every script before running any, so a typo in the last file does not leave a
    // half-run report behind.
    let mut sources = Vec::new();
    for job in &jobs {
        match job {
            Job::File(path) => match crate::script::read_script(path) {
                Ok(source) => sources.push((source, Origin::File(path.clone()))),
                Err(message) => return usage_error(message),
            },
            Job::Command(sql) => sources.push((sql.clone(), Origin::Command)),
        }
    }
    let cluster = match cluster(&cli) {
        Ok(cluster) => cluster,
        Err(message) => return usage_error(message),
    };
    let options = SessionOptions {
        threads: cli.threads.map(usize::from),
        memory_limit: cli.memory_limit,
        models_dir: cli.models.clone(),
        cluster,
    };
    let mut shell = match Shell::new(&options) {
        Ok(shell) => shell,
        Err(e) => return usage_error(user_message(&e)),
    };
    if let Some(path) = &cli.run_log {
        let argv = crate::runlog::redacted_argv(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
        match RunLog::open(path, argv, cli.params.iter().cloned().collect()) {
            Ok(log) => shell.set_run_log(log),
            Err(message) => return usage_error(message),
        }
    }
    shell.set_format(cli.format);
    shell.set_maxrows(cli.maxrows.0);
    shell.set_continue_on_error(cli.continue_on_error);
    for (name, value) in &cli.params {
        // --param names were checked when the flags were parsed.
        if let Err(e) = shell.set_param(name, value) {
            return usage_error(format!("--param: {e}"));
        }
    }
    if let Some(path) = &cli.output {
        match Sink::file(path) {
            Ok(sink) => shell.set_sink(sink),
            Err(message) => return usage_error(message),
        }
    }
    for dir in &cli.data {
        if let Err(e) = shell.load_dir(dir) {
            return usage_error(format!("--data: {e}"));
        }
    }
    if let Some(path) = &cli.html {
        match crate::report::Report::create(path) {
            Ok(report) => shell.set_report(report),
            Err(message) => return usage_error(message),
        }
    }

    if sources.is_empty() {
        if std::io::stdin().is_terminal() {
            // Mistakes typed at the prompt were shown there; leaving the REPL is a success.
            crate::repl::run(&mut shell, cli.quiet).await;
            return finish(&mut shell, exit::OK);
        }
        let mut source = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut source) {
            return usage_error(format!("cannot read SQL from stdin: {e}"));
        }
        sources.push((source, Origin::Stdin));
    }

    if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() && cli.output.is_none() {
        let params = cli.params.iter().cloned().collect();
        shell.set_step_total(crate::script::outline::count(&sources, &params));
    }
    let mut failed = false;
    for (source, origin) in &sources {
        match shell.run_script(source, origin).await {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(ShellError::Reported) => {
                failed = true;
                if !shell.continue_on_error() {
                    break;
                }
            }
            Err(ShellError::OutputClosed) => break,
            Err(ShellError::Message(message)) => {
                eprintln!("segsql: error: {message}");
                failed = true;
                break;
            }
        }
    }
    shell.print_summary();
    shell.flush();
    shell.sign_report();
    if let Some(report) = shell.report() {
        match report.write() {
            Ok(()) => shell.log_output(report.path()),
            Err(message) => {
                eprintln!("segsql: error: {message}");
                failed = true;
            }
        }
    }
    if let Some(path) = &cli.output {
        shell.log_output(path);
    }
    finish(&mut shell, if failed { exit::STATEMENT_FAILED } else { exit::OK })
}

/// The run's exit code, once its `--run-log` line is written (a run whose log line could
/// not be written has failed: the change log must not miss it silently).
fn finish(shell: &mut Shell, code: u8) -> ExitCode {
    match shell.finish_run_log(code) {
        Ok(()) => ExitCode::from(code),
        Err(message) => {
            eprintln!("segsql: error: {message}");
            ExitCode::from(exit::STATEMENT_FAILED)
        }
    }
}

fn generate(customers: u64, out: PathBuf, seed: u64, tables: Vec<String>, threads: Option<usize>) -> ExitCode {
    if customers == 0 {
        return usage_error("generate: --customers must be at least 1");
    }
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let request = GenerateRequest {
        config: GeneratorConfig { customers, seed, with_events: true },
        out_dir: out.clone(),
        tables,
        threads,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(customers);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} customers {elapsed_precise} (eta {eta})")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = sample::write_parquet(&request, |done| bar.inc(done));
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            for (table, rows) in &summary.rows {
                eprintln!("wrote {} ({rows} rows)", out.join(format!("{table}.parquet")).display());
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => usage_error(user_message(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("4X").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn params() {
        assert_eq!(parse_param("as_of=2025-06-30"), Ok(("as_of".into(), "2025-06-30".into())));
        assert_eq!(parse_param("q=a=b"), Ok(("q".into(), "a=b".into())));
        assert!(parse_param("novalue").is_err());
        assert!(parse_param("bad-name=1").is_err());
    }

    #[test]
    fn jobs_keep_command_line_order() {
        let matches =
            Cli::command().try_get_matches_from(["segsql", "-c", "SELECT 1", "-f", "a.sql", "-c", "SELECT 2"]).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(
            jobs_in_order(&cli, &matches),
            vec![Job::Command("SELECT 1".into()), Job::File("a.sql".into()), Job::Command("SELECT 2".into())]
        );
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
