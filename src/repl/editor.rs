//! The interactive shell.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustyline::Editor;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;

use crate::repl::completion::{Catalog, ReplHelper};
use crate::script::{Flow, Origin, Shell};

const PROMPT: &str = "segsql> ";

/// Where history is kept: `$SEGSQL_HISTORY`, else the user's data folder.
pub fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SEGSQL_HISTORY") {
        return Some(PathBuf::from(path));
    }
    Some(dirs::data_dir()?.join("segsql").join("history"))
}

/// Runs the REPL until `\q` or Ctrl-D.
pub async fn run(shell: &mut Shell, quiet: bool) {
    shell.set_interactive(!quiet);
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(true)
        .history_ignore_space(true)
        .max_history_size(10_000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut editor: Editor<ReplHelper, FileHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the interactive shell: {e}");
            return;
        }
    };
    let catalog = Arc::new(RwLock::new(Catalog::load(shell).await));
    editor.set_helper(Some(ReplHelper::new(catalog.clone())));
    let history = history_path();
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.load_history(path);
    }
    if !quiet {
        eprintln!(
            "segsql {} on DataFusion. Sample data is in sample.* (\\sample); \\? for help, \\q to quit.",
            env!("CARGO_PKG_VERSION")
        );
    }
    loop {
        let input = match editor.readline(PROMPT) {
            Ok(input) => input,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        if input.trim().is_empty() {
            continue;
        }
        // Ctrl-C while a statement runs cancels it (dropping the future stops the query) and
        // keeps the session.
        let outcome = tokio::select! {
            result = shell.run_script(&input, &Origin::Interactive) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        };
        shell.flush();
        match outcome {
            None => eprintln!("Cancelled."),
            Some(Ok(Flow::Quit)) => break,
            Some(Ok(Flow::Continue)) => {}
            Some(Err(_)) => {}
        }
        let fresh = Catalog::load(shell).await;
        if let Ok(mut current) = catalog.write() {
            *current = fresh;
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
}
