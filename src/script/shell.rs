//! The shell: one DataFusion session plus parameters, output settings and the script
//! runner.
//!
//! The CLI, the REPL and the sqllogictest adapter all execute through [`Shell`], so what
//! the tests cover is what users run. Its state is private: meta commands change it
//! through the [`Host`] methods.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::{ExecutionPlan, collect, execute_stream};
use datafusion::prelude::SessionContext;

use super::conditional::{Conditionals, Directive};
use super::copy::PendingCopy;
use super::params;
use super::parser::{self, SegStatement};
use super::splitter::{self, Chunk, ChunkKind};
use crate::command::Flow;
use crate::command::{Command, Host, LastResult};
use crate::data::folder::DataSchema;
use crate::error::{self, ShellError};
use crate::model;
use crate::output::progress::{ClearsProgress, Progress};
use crate::output::{self, Format, OutputSettings, Sink, terminal_width};
use crate::report;
use crate::runlog::{Input, ModelFile, RunLog};
use crate::session::{ModelStore, SessionOptions};

/// Where a script comes from, for `FILE:LINE` messages.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    Command,
    Stdin,
    Interactive,
}

impl Origin {
    pub fn label(&self) -> Option<String> {
        match self {
            Origin::File(path) => Some(path.display().to_string()),
            Origin::Command => Some("<command>".into()),
            Origin::Stdin => Some("<stdin>".into()),
            Origin::Interactive => None,
        }
    }

    /// The folder that relative `\i` paths start from.
    pub fn base_dir(&self) -> PathBuf {
        match self {
            Origin::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => PathBuf::new(),
        }
    }
}

/// The result of one statement, collected (for tests and tools).
#[derive(Debug, Clone)]
pub struct StatementOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// False for commands (DDL, COPY, INSERT) whose result is only a status.
    pub returns_rows: bool,
}

/// Results up to this many rows are kept for `\\chart`; larger ones are only printed.
const CHART_ROWS: usize = 100_000;

/// What the comments before the running statement asked for.
#[derive(Debug, Default)]
struct PendingAnnotations {
    title: Option<String>,
    part: Option<report::annotation::Part>,
    chart: Option<report::annotation::ChartSpec>,
    findings: Vec<report::finding::Finding>,
    sql: String,
}

/// A plan that yields a result the shell computed itself.
fn batch_plan(batch: RecordBatch) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = batch.schema();
    Ok(datafusion::datasource::memory::MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None)?)
}

/// A session with its parameters and settings.
pub struct Shell {
    ctx: SessionContext,
    data: Arc<DataSchema>,
    params: BTreeMap<String, String>,
    output: OutputSettings,
    sink: Sink,
    timing: bool,
    /// The HTML report being collected (`--html`).
    report: Option<report::Report>,
    /// The last result's header and cells, for `\chart`.
    last_result: Option<LastResult>,
    /// Title and chart annotations of the statement being run.
    annotations: PendingAnnotations,
    /// Status lines ("OK", rows written) on stderr, for people rather than scripts.
    interactive: bool,
    /// Keep going after a failed statement, reporting it.
    continue_on_error: bool,
    /// How many statements failed (with `continue_on_error`).
    failures: usize,
    /// Nesting depth of `\i`, to stop a script that includes itself.
    include_depth: usize,
    /// What this run did, for `--run-log`.
    run_log: Option<parking_lot::Mutex<RunLog>>,
    /// Statements run so far and the run's total, for the progress line of scripts.
    steps: Option<Steps>,
    /// The report section of the script being run (`-- @section`), until its next one.
    part: Option<report::annotation::Part>,
    /// The run's `@finding` lines and KPI tiles so far, for its closing summary.
    findings: Vec<String>,
    tiles: Vec<report::terminal::Tiles>,
}

/// Where a script run is: `[17/42] 04_clustering.sql:28`.
#[derive(Debug, Clone, Default)]
struct Steps {
    done: usize,
    total: usize,
    /// The statement running now.
    label: String,
}

/// A statement planned and ready to run: a COPY to one local file comes with the
/// [`PendingCopy`] to commit once the plan has run to the end, and any COPY with its target.
struct Planned {
    physical: Arc<dyn ExecutionPlan>,
    copy: Option<PendingCopy>,
    copy_target: Option<String>,
}

const MAX_INCLUDE_DEPTH: usize = 16;

impl Shell {
    pub fn new(options: &SessionOptions) -> Result<Shell> {
        let (ctx, data) = crate::session::new_context(options)?;
        Ok(Shell::new_with(ctx, data))
    }

    fn new_with(ctx: SessionContext, data: Arc<DataSchema>) -> Shell {
        Shell {
            ctx,
            data,
            params: BTreeMap::new(),
            output: OutputSettings::default(),
            sink: Sink::stdout(),
            timing: false,
            report: None,
            last_result: None,
            annotations: PendingAnnotations::default(),
            interactive: false,
            continue_on_error: false,
            failures: 0,
            include_depth: 0,
            run_log: None,
            steps: None,
            part: None,
            findings: Vec::new(),
            tiles: Vec::new(),
        }
    }

    /// A shell over a session someone else built (a `serve` connection's), writing nowhere:
    /// it runs segsql's own statements and COPY for the wire, which carries their results.
    pub fn for_session(ctx: SessionContext, data: Arc<DataSchema>) -> Shell {
        let mut shell = Shell::new_with(ctx, data);
        shell.sink = Sink::Memory(Vec::new());
        shell
    }

    /// The parameters `--param` and `\set` gave so far.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// Plans and runs one parsed statement (parameters already substituted), collecting its result.
    pub async fn run_collected(&mut self, statement: SegStatement) -> Result<StatementOutput> {
        let returns_rows = statement.returns_rows();
        let planned = self.plan(statement).await?;
        let schema = planned.physical.schema();
        let batches = self.collect(planned).await?;
        Ok(StatementOutput { schema, batches, returns_rows })
    }

    /// The data schema (`--data` tables, views) shared with other sessions.
    pub fn data_schema(&self) -> Arc<DataSchema> {
        Arc::clone(&self.data)
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The models folder the session's `segsql.models_dir` names now (`--models`, or a
    /// later `SET segsql.models_dir = '...'`).
    pub fn models(&self) -> ModelStore {
        ModelStore::for_session(self.ctx.state().config_options())
    }

    pub fn data(&self) -> &DataSchema {
        &self.data
    }

    /// Where results go now; tests read a [`Sink::Memory`] back.
    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Sends results to `sink` from now on, after flushing what went to the old one.
    pub fn set_sink(&mut self, sink: Sink) {
        self.flush();
        self.sink = sink;
    }

    pub fn set_format(&mut self, format: Format) {
        self.output.format = format;
    }

    pub fn set_maxrows(&mut self, maxrows: Option<usize>) {
        self.output.maxrows = maxrows;
    }

    /// Status lines on stderr (the REPL), or none (scripts).
    pub fn set_interactive(&mut self, interactive: bool) {
        self.interactive = interactive;
    }

    pub fn continue_on_error(&self) -> bool {
        self.continue_on_error
    }

    pub fn set_continue_on_error(&mut self, keep_going: bool) {
        self.continue_on_error = keep_going;
    }

    /// How many statements failed so far (more than one only with `continue_on_error`).
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Sets a `${name}` parameter; a name that `${...}` cannot use is an error.
    pub fn set_param(&mut self, name: &str, value: &str) -> std::result::Result<(), ShellError> {
        if !params::is_valid_name(name) {
            return Err(ShellError::message(format!(
                "'{name}' is not a parameter name; use letters, digits and _, starting with a letter"
            )));
        }
        self.params.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// Collects every result, with its charts, into `report` (`--html`).
    pub fn set_report(&mut self, report: report::Report) {
        self.report = Some(report);
    }

    pub fn report(&self) -> Option<&report::Report> {
        self.report.as_ref()
    }

    /// Counts statements against `total` (see [`super::outline`]) and shows where the run
    /// is on the progress line.
    pub fn set_step_total(&mut self, total: usize) {
        self.steps = Some(Steps { total, ..Steps::default() });
    }

    /// Records this run for `--run-log`.
    pub fn set_run_log(&mut self, log: RunLog) {
        self.run_log = Some(parking_lot::Mutex::new(log));
    }

    /// Appends the run's line to the `--run-log` file, if there is one.
    pub fn finish_run_log(&mut self, exit_code: u8) -> std::result::Result<(), String> {
        let Some(log) = self.run_log.take() else { return Ok(()) };
        let log = log.into_inner();
        log.append(&log.line(exit_code, &self.inputs()))
    }

    /// Signs the HTML report with the run's parameters (secrets redacted, as in the run log)
    /// and the fingerprint of the `--data` files.
    pub fn sign_report(&mut self) {
        let params = crate::runlog::redacted_params(&self.params)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let inputs = self.inputs();
        let data = (!inputs.is_empty()).then(|| crate::runlog::data_fingerprint(&inputs));
        if let Some(report) = &mut self.report {
            report.set_footer(report::Footer { params, data });
        }
    }

    /// The `--data` tables and where they come from.
    fn inputs(&self) -> Vec<Input> {
        self.data.sources().into_iter().map(|(table, location)| Input { table, location }).collect()
    }

    /// Records a file the run wrote outside SQL (the `--html` report, the `-o` results).
    pub fn log_output(&self, path: &Path) {
        self.log(|log| log.output(&path.to_string_lossy(), None));
    }

    fn log(&self, record: impl FnOnce(&mut RunLog)) {
        if let Some(log) = &self.run_log {
            record(&mut log.lock());
        }
    }

    /// Registers the data files of `dir`, warning on stderr about files that were skipped.
    pub fn load_dir(&mut self, dir: &Path) -> std::result::Result<Vec<String>, ShellError> {
        let registered = self.data.register_dir(dir).map_err(ShellError::Message)?;
        for (path, reason) in &registered.skipped {
            eprintln!("warning: skipped {}: {reason}", path.display());
        }
        Ok(registered.tables)
    }

    fn dialect(&self) -> String {
        self.ctx.state().config().options().sql_parser.dialect.to_string()
    }

    /// Runs a whole script. Errors are printed as `FILE:LINE: error: message` as they
    /// happen; the result says whether the script should count as failed.
    pub async fn run_script(&mut self, source: &str, origin: &Origin) -> std::result::Result<Flow, ShellError> {
        let label = match origin {
            Origin::File(path) => Some(path.display().to_string()),
            Origin::Command | Origin::Stdin => origin.label(),
            Origin::Interactive => None,
        };
        if let Some(label) = label {
            self.log(|log| log.script(&label, source.as_bytes()));
        }
        // An included script starts outside any section and leaves the includer's as it was.
        let outer_part = self.part.take();
        let result = self.run_chunks(source, origin).await;
        self.part = outer_part;
        result
    }

    async fn run_chunks(&mut self, source: &str, origin: &Origin) -> std::result::Result<Flow, ShellError> {
        let split = splitter::split(source);
        let chunks = split.chunks.into_iter().chain(split.trailing);
        let mut failed = false;
        let mut blocks = Conditionals::default();
        for chunk in chunks {
            let result = match self.directive(&chunk) {
                Some(Ok(directive)) => blocks.apply(directive, &self.params).map(|()| Flow::Continue),
                Some(Err(error)) => Err(error),
                None if !blocks.active() => continue,
                None => self.run_chunk(&chunk, origin).await,
            };
            match result {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return Ok(Flow::Quit),
                Err(ShellError::OutputClosed) => return Ok(Flow::Quit),
                Err(error) => {
                    if let ShellError::Message(message) = &error {
                        error::report(origin.label().as_deref(), chunk.line, message);
                        self.failures += 1;
                    }
                    failed = true;
                    if !self.continue_on_error {
                        return Err(ShellError::Reported);
                    }
                }
            }
        }
        if let Err(ShellError::Message(message)) = blocks.finish() {
            error::report(origin.label().as_deref(), split_end_line(source), &message);
            self.failures += 1;
            return Err(ShellError::Reported);
        }
        if failed { Err(ShellError::Reported) } else { Ok(Flow::Continue) }
    }

    /// The `\if` family directive a chunk is, if it is one.
    fn directive(&self, chunk: &Chunk) -> Option<std::result::Result<Directive, ShellError>> {
        if chunk.kind != ChunkKind::Meta {
            return None;
        }
        match Command::parse(&chunk.text) {
            Ok((command, args)) => Directive::of(command, args).map(Ok),
            Err(_) => None,
        }
    }

    /// Runs one statement or meta command.
    pub async fn run_chunk(&mut self, chunk: &Chunk, origin: &Origin) -> std::result::Result<Flow, ShellError> {
        match chunk.kind {
            ChunkKind::Meta => {
                let (command, args) = Command::parse(&chunk.text)?;
                command.execute(args, self, &origin.base_dir()).await
            }
            ChunkKind::Sql => {
                let sql = params::substitute(&chunk.text, &self.params)?;
                let found = report::annotation::annotations(&sql).map_err(ShellError::Message)?;
                if found.part.is_some() {
                    self.part = found.part;
                }
                if let Some(steps) = &mut self.steps {
                    steps.done += 1;
                    // A statement the count did not foresee (see outline.rs) grows the total.
                    steps.total = steps.total.max(steps.done);
                    steps.label = step_label(steps.done, steps.total, origin, chunk.line);
                }
                for statement in parser::parse(&sql, &self.dialect())? {
                    self.annotations = PendingAnnotations {
                        title: found.title.clone(),
                        part: self.part,
                        chart: found.chart.clone(),
                        findings: found.findings.clone(),
                        sql: sql.clone(),
                    };
                    let started = Instant::now();
                    self.log(RunLog::statement);
                    self.run_statement(statement).await?;
                    if self.timing {
                        eprintln!("Time: {:.3} s", started.elapsed().as_secs_f64());
                    }
                }
                Ok(Flow::Continue)
            }
        }
    }

    /// Runs a file named by `\i` or `-f`.
    pub async fn run_file(&mut self, path: &Path) -> std::result::Result<Flow, ShellError> {
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(ShellError::Message(format!(
                "\\i {}: scripts include each other more than {MAX_INCLUDE_DEPTH} levels deep; is a script including itself?",
                path.display()
            )));
        }
        let source = read_script(path).map_err(ShellError::Message)?;
        self.include_depth += 1;
        // Boxed because a script may include another: the future is recursive.
        let result = Box::pin(self.run_script(&source, &Origin::File(path.to_path_buf()))).await;
        self.include_depth -= 1;
        result
    }

    /// Plans a statement and executes it into a physical plan, ready to stream.
    async fn plan(&self, statement: SegStatement) -> Result<Planned> {
        let plan = match statement {
            SegStatement::DataFusion(statement) => {
                let mut statement = *statement;
                let copy_target = match &statement {
                    datafusion::sql::parser::Statement::CopyTo(copy) => Some(copy.target.clone()),
                    _ => None,
                };
                if let datafusion::sql::parser::Statement::CreateExternalTable(create) = &mut statement {
                    take_s3_options(&self.ctx, create)?;
                }
                let copy = PendingCopy::redirect(&mut statement);
                let state = self.ctx.state();
                let plan = state.statement_to_plan(statement).await?;
                let frame = self.ctx.execute_logical_plan(plan).await?;
                let physical = frame.create_physical_plan().await?;
                if crate::distributed::is_distributed_analyze(physical.as_ref()) {
                    return Ok(Planned { physical: self.explain_with_workers(physical).await?, copy, copy_target });
                }
                return Ok(Planned { physical, copy, copy_target });
            }
            SegStatement::CreateModel(create) => {
                let store = self.models();
                let path = ModelStore::normalize(&create.name).map(|name| store.path(&name)).ok();
                let previous = path.as_deref().and_then(ModelFile::read);
                let name = create.name.clone();
                let batch = model::create_model(&self.ctx, &store, *create).await?;
                self.log(|log| log.model(&name, path.as_deref().and_then(ModelFile::read), previous));
                batch_plan(batch)
            }
            SegStatement::DropModel { name, if_exists } => {
                batch_plan(model::drop_model(&self.models(), &name, if_exists)?)
            }
            SegStatement::ShowModels => batch_plan(model::show_models(&self.models())?),
            SegStatement::Summarize(query) => batch_plan(super::summarize::summarize(&self.ctx, *query).await?),
        };
        Ok(Planned { physical: plan?, copy: None, copy_target: None })
    }

    /// Runs a distributed `EXPLAIN ANALYZE` and names the worker of every task in its text.
    async fn explain_with_workers(&self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = plan.schema();
        let batches = collect(plan, self.ctx.task_ctx()).await?;
        let batch = datafusion::arrow::compute::concat_batches(&schema, &batches)?;
        let workers = crate::distributed::workers_of(self.ctx.state().config());
        let mut columns = batch.columns().to_vec();
        if let Some(text) =
            columns.get(1).and_then(|c| c.as_any().downcast_ref::<datafusion::arrow::array::StringArray>())
        {
            let named: datafusion::arrow::array::StringArray =
                text.iter().map(|t| t.map(|t| crate::distributed::name_workers(t, &workers))).collect();
            columns[1] = Arc::new(named);
        }
        batch_plan(RecordBatch::try_new(schema, columns)?)
    }

    /// Runs a plan to the end and collects its batches; a COPY's file replaces the target
    /// only then, and is logged once it is in place.
    async fn collect(&self, planned: Planned) -> Result<Vec<RecordBatch>> {
        let batches = collect(planned.physical, self.ctx.task_ctx()).await?;
        if let Some(copy) = planned.copy {
            copy.commit()?;
        }
        if let Some(target) = planned.copy_target {
            self.log(|log| log.output(&target, copied_rows(&batches)));
        }
        Ok(batches)
    }

    async fn print_statement(&mut self, statement: SegStatement) -> Result<()> {
        let returns_rows = statement.returns_rows();
        // Started before planning: CREATE MODEL does its work there.
        let show_progress = self.sink.is_terminal() && std::io::stderr().is_terminal();
        let progress = show_progress.then(|| Progress::start(self.steps.as_ref().map(|s| s.label.clone())));
        let planned = self.plan(statement).await?;
        let physical = Arc::clone(&planned.physical);
        if let Some(progress) = &progress {
            progress.watch(Arc::clone(&physical));
        }
        let task = self.ctx.task_ctx();
        if !returns_rows && !self.annotations.findings.is_empty() {
            return Err(DataFusionError::Plan(
                "@finding: this statement returns no rows to state a finding from; put the @finding before a query"
                    .into(),
            ));
        }
        if !returns_rows {
            let batches = self.collect(planned).await?;
            drop(progress);
            if self.interactive {
                eprintln!("{}", command_status(&batches));
            }
            return Ok(());
        }
        let schema = physical.schema();
        // A chart that names a missing column fails before the query runs.
        let annotations = std::mem::take(&mut self.annotations);
        let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if let Some(chart) = &annotations.chart {
            chart.check(&schema).map_err(DataFusionError::Plan)?;
        }
        for finding in &annotations.findings {
            finding.check(&header).map_err(DataFusionError::Plan)?;
        }
        let mut settings = self.output.clone();
        settings.width = if self.sink.is_terminal() { terminal_width() } else { None };
        let tiles = annotations.chart.as_ref().filter(|c| c.kind == report::annotation::ChartKind::Kpi).cloned();
        if self.report.is_some() || !annotations.findings.is_empty() || tiles.is_some() {
            // Charts and findings need every row: collect them, then print.
            let batches = collect(physical, task).await?;
            let rows = output::cells(&batches)?;
            let findings: Vec<String> = annotations
                .findings
                .iter()
                .flat_map(|f| f.render(&header, &rows, annotations.title.as_deref()))
                .collect();
            if let Some(spec) = tiles {
                self.tiles.push(report::terminal::Tiles { spec, header: header.clone(), rows: rows.clone() });
            }
            if let Some(report) = &mut self.report {
                report.add_findings(&findings);
                report.add(
                    annotations.title,
                    annotations.part,
                    &annotations.sql,
                    header.clone(),
                    rows.clone(),
                    annotations.chart,
                );
            }
            self.last_result = Some((header, rows));
            let stream = Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema.clone(),
                futures::stream::iter(batches.into_iter().map(Ok)),
            ));
            let mut out = ClearsProgress { inner: self.sink.writer(), progress: progress.as_ref() };
            output::write_stream(&mut out, schema, stream, &settings).await?;
            // At the prompt a finding follows its table; a script's come together at the end.
            if self.interactive && settings.format == output::Format::Table {
                for finding in &findings {
                    std::io::Write::write_all(&mut out, format!("Finding: {finding}\n").as_bytes())?;
                }
            }
            self.findings.extend(findings);
            return Ok(());
        }
        // In the REPL, keep a copy of small results for \chart while streaming them out.
        let kept: Arc<parking_lot::Mutex<Option<Vec<RecordBatch>>>> =
            Arc::new(parking_lot::Mutex::new(self.interactive.then(Vec::new)));
        let tee = Arc::clone(&kept);
        let inner = execute_stream(physical, task)?;
        let stream = Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            schema.clone(),
            futures::StreamExt::inspect(inner, move |batch| {
                let mut kept = tee.lock();
                if let (Some(batches), Ok(batch)) = (kept.as_mut(), batch) {
                    batches.push(batch.clone());
                    if batches.iter().map(RecordBatch::num_rows).sum::<usize>() > CHART_ROWS {
                        *kept = None;
                    }
                }
            }),
        ));
        let mut out = ClearsProgress { inner: self.sink.writer(), progress: progress.as_ref() };
        output::write_stream(&mut out, schema.clone(), stream, &settings).await?;
        if self.interactive {
            let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            self.last_result = match kept.lock().take() {
                Some(batches) => Some((header, output::cells(&batches)?)),
                None => None,
            };
        }
        Ok(())
    }

    /// Runs a statement and reports a closed stdout (`segsql ... | head`) as its own case.
    async fn run_statement(&mut self, statement: SegStatement) -> std::result::Result<(), ShellError> {
        match self.print_statement(statement).await {
            Err(error) if is_broken_pipe(&error) => Err(ShellError::OutputClosed),
            other => Ok(other?),
        }
    }

    /// Runs SQL (one or more statements, after parameter substitution) and collects the
    /// results instead of printing them.
    pub async fn execute_collect(&mut self, sql: &str) -> std::result::Result<Vec<StatementOutput>, ShellError> {
        let sql = params::substitute(sql, &self.params)?;
        let mut outputs = Vec::new();
        for statement in parser::parse(&sql, &self.dialect())? {
            let returns_rows = statement.returns_rows();
            let planned = self.plan(statement).await?;
            let schema = planned.physical.schema();
            let batches = self.collect(planned).await?;
            outputs.push(StatementOutput { schema, batches, returns_rows });
        }
        Ok(outputs)
    }

    /// Writes text (a terminal chart) to the current output.
    pub fn write_text(&mut self, text: &str) -> std::io::Result<()> {
        self.sink.writer().write_all(text.as_bytes())
    }

    /// Prints a result that the shell made itself (`\d`, `\functions`) in the current format.
    pub async fn print_batch(&mut self, batch: RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let stream = Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            schema.clone(),
            futures::stream::iter(vec![Ok(batch)]),
        ));
        let mut settings = self.output.clone();
        settings.width = if self.sink.is_terminal() { terminal_width() } else { None };
        settings.maxrows = None;
        output::write_stream(self.sink.writer(), schema, stream, &settings).await?;
        Ok(())
    }

    /// Flushes buffered results (before exiting or switching `\o`).
    /// Ends a script run with its findings and KPI tiles as tables (only in table format:
    /// the other formats are for programs), and starts the next run's afresh.
    pub fn print_summary(&mut self) {
        let findings = std::mem::take(&mut self.findings);
        let tiles = std::mem::take(&mut self.tiles);
        if self.output.format != output::Format::Table || (findings.is_empty() && tiles.is_empty()) {
            return;
        }
        let width = if self.sink.is_terminal() { terminal_width() } else { None };
        let text = report::terminal::summary(&findings, &tiles, width);
        let _ = self.write_text(&format!("\n{text}"));
    }

    pub fn flush(&mut self) {
        let _ = self.sink.writer().flush();
    }
}

/// True when writing results failed because the reader went away.
fn is_broken_pipe(error: &DataFusionError) -> bool {
    let io_kind = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    match error {
        DataFusionError::IoError(e) => io_kind(e),
        DataFusionError::ArrowError(arrow, _) => {
            matches!(arrow.as_ref(), datafusion::arrow::error::ArrowError::IoError(_, e) if io_kind(e))
        }
        DataFusionError::External(inner) => inner.downcast_ref::<std::io::Error>().is_some_and(io_kind),
        DataFusionError::Context(_, inner) => is_broken_pipe(inner),
        DataFusionError::Shared(inner) => is_broken_pipe(inner),
        _ => false,
    }
}

/// `[17/42] 04_clustering.sql:28`: the file's name, not its path, to keep the line short.
fn step_label(done: usize, total: usize, origin: &Origin, line: usize) -> String {
    let name = match origin {
        Origin::File(path) => {
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
        }
        other => other.label().unwrap_or_default(),
    };
    format!("[{done}/{total}] {name}:{line}")
}

/// The last line of a script, where an unclosed block is reported.
fn split_end_line(source: &str) -> usize {
    source.lines().count().max(1)
}

/// Reads a script as UTF-8, with errors that name the file.
pub fn read_script(path: &Path) -> std::result::Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read script {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        format!("{}:{line}: script is not valid UTF-8; save it as UTF-8 and run it again", path.display())
    })
}

/// The row count that COPY and INSERT report.
fn copied_rows(batches: &[RecordBatch]) -> Option<u64> {
    use datafusion::arrow::array::{Array, UInt64Array};
    batches.first().and_then(|batch| {
        let column = batch.column_by_name("count")?;
        let values = column.as_any().downcast_ref::<UInt64Array>()?;
        (!values.is_empty()).then(|| values.value(0))
    })
}

/// "OK", or the row count that COPY and INSERT report.
fn command_status(batches: &[RecordBatch]) -> String {
    match copied_rows(batches) {
        Some(1) => "OK, 1 row".to_string(),
        Some(n) => format!("OK, {n} rows"),
        None => "OK".to_string(),
    }
}

impl Host for Shell {
    fn context(&self) -> &SessionContext {
        &self.ctx
    }

    fn data(&self) -> &DataSchema {
        &self.data
    }

    fn models(&self) -> ModelStore {
        Shell::models(self)
    }

    fn is_interactive(&self) -> bool {
        self.interactive
    }

    async fn print_batch(&mut self, batch: RecordBatch) -> std::result::Result<(), ShellError> {
        Ok(Shell::print_batch(self, batch).await?)
    }

    fn write_text(&mut self, text: &str) -> std::io::Result<()> {
        Shell::write_text(self, text)
    }

    fn last_result(&self) -> Option<&LastResult> {
        self.last_result.as_ref()
    }

    fn timing(&self) -> bool {
        self.timing
    }

    fn set_timing(&mut self, on: bool) {
        self.timing = on;
    }

    async fn run_file(&mut self, path: &Path) -> std::result::Result<Flow, ShellError> {
        Shell::run_file(self, path).await
    }

    fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    fn set_param(&mut self, name: &str, value: &str) -> std::result::Result<(), ShellError> {
        Shell::set_param(self, name, value)
    }

    fn unset_param(&mut self, name: &str) -> bool {
        self.params.remove(name).is_some()
    }

    fn set_sink(&mut self, sink: Sink) {
        Shell::set_sink(self, sink);
    }

    fn load_dir(&mut self, dir: &Path) -> std::result::Result<Vec<String>, ShellError> {
        Shell::load_dir(self, dir)
    }

    fn set_format(&mut self, format: Format) {
        Shell::set_format(self, format);
    }

    fn set_maxrows(&mut self, maxrows: Option<usize>) {
        Shell::set_maxrows(self, maxrows);
    }
}

/// `OPTIONS ('aws.…' …)` on `CREATE EXTERNAL TABLE`: the bucket's client is built with
/// them, and they are taken out before DataFusion, which does not know them, sees the rest.
fn take_s3_options(ctx: &SessionContext, create: &mut datafusion::sql::parser::CreateExternalTable) -> Result<()> {
    use datafusion::sql::sqlparser::ast::Value;
    let mut options: Vec<(String, String)> = Vec::new();
    let mut kept = Vec::new();
    for (key, value) in std::mem::take(&mut create.options) {
        if !key.starts_with("aws.") {
            kept.push((key, value));
            continue;
        }
        let text = match &value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Boolean(b) => b.to_string(),
            other => other.to_string(),
        };
        options.push((key, text));
    }
    create.options = kept;
    let registry = ctx.runtime_env().object_store_registry.clone();
    if options.is_empty() {
        return Ok(());
    }
    let Some(location) = create.locations.first() else {
        return Ok(());
    };
    crate::data::s3::register_from_options(registry.as_ref(), location, &mut options)
}
