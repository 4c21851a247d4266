//! The shell's error type, and how an error is shown: `FILE:LINE: error: message`.

use std::fmt;

use datafusion::common::DataFusionError;

/// A user-facing error, or the news that one has already been shown.
#[derive(Debug)]
pub enum ShellError {
    /// Something to tell the user; the caller adds the location.
    Message(String),
    /// An error that a nested script already printed with its own location.
    Reported,
    /// Whoever read the results stopped reading (`| head`): stop quietly, like other tools.
    OutputClosed,
}

impl ShellError {
    pub fn message(text: impl Into<String>) -> ShellError {
        ShellError::Message(text.into())
    }
}

impl fmt::Display for ShellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShellError::Message(message) => f.write_str(message),
            ShellError::Reported => f.write_str("see the error above"),
            ShellError::OutputClosed => f.write_str("the output was closed"),
        }
    }
}

impl std::error::Error for ShellError {}

impl From<DataFusionError> for ShellError {
    fn from(error: DataFusionError) -> Self {
        ShellError::Message(user_message(&error))
    }
}

impl From<std::io::Error> for ShellError {
    fn from(error: std::io::Error) -> Self {
        ShellError::Message(error.to_string())
    }
}

/// The message of a DataFusion error without the wrapper text DataFusion adds for its own
/// developers ("Error during planning: ", "External error: ", backtraces).
pub fn user_message(error: &DataFusionError) -> String {
    // An object store's failure inside the Parquet reader, or on a worker, arrives as text.
    crate::data::s3::explain_wrapped(message_of(error))
}

fn message_of(error: &DataFusionError) -> String {
    let text = error.to_string();
    if text.contains(COERCION_FAILED) {
        return coercion_message(&text);
    }
    match error {
        DataFusionError::Plan(message) if message.starts_with("table '") && message.ends_with("' not found") => {
            format!("{message}; \\d lists the tables")
        }
        DataFusionError::Plan(message) if message.starts_with("Too many columns! The subquery") => {
            format!(
                "{message}; segsql's table functions take a table or view by name: CREATE VIEW v AS SELECT ... first"
            )
        }
        DataFusionError::Plan(message) | DataFusionError::Execution(message) => message.clone(),
        // A function's own error raised while the optimizer simplified its call (a missing
        // model, a bad scheme table) is the user's message; the rule's name is noise.
        DataFusionError::Context(context, inner) if context.starts_with("Optimizer rule '") => message_of(inner),
        DataFusionError::Context(context, inner) => format!("{context}: {}", message_of(inner)),
        DataFusionError::Shared(inner) => message_of(inner),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(inner) => message_of(inner),
            None => inner.to_string(),
        },
        DataFusionError::Diagnostic(_, inner) => message_of(inner),
        DataFusionError::SQL(inner, _) => format!("syntax error: {inner}").replace("sql parser error: ", ""),
        DataFusionError::ObjectStore(inner) => crate::data::s3::object_store_message(inner),
        DataFusionError::ResourcesExhausted(message) => {
            format!("out of memory: {message}. Raise --memory-limit, or reduce what the query holds at once")
        }
        other => other.to_string(),
    }
}

/// What DataFusion wraps a function's own argument error in while it resolves the call.
const COERCION_FAILED: &str = "user-defined coercion failed with: Error during planning: ";

/// The function's own message from DataFusion's "Function 'f' user-defined coercion failed
/// with: Error during planning: <message>. No function matches ... Candidate functions: ...".
fn coercion_message(message: &str) -> String {
    let inner = message.split_once(COERCION_FAILED).map_or(message, |(_, rest)| rest);
    inner.split_once(". No function matches the given name").map_or(inner, |(own, _)| own).to_string()
}

/// `FILE:LINE: error: message`, or `error: message` where there is no file (the REPL).
pub fn located(label: Option<&str>, line: usize, message: &str) -> String {
    match label {
        Some(label) => format!("{label}:{line}: error: {message}"),
        None => format!("error: {message}"),
    }
}

/// Prints [`located`] on stderr.
pub fn report(label: Option<&str>, line: usize, message: &str) {
    eprintln!("{}", located(label, line, message));
}

/// The text a panic was raised with, for a one-line error instead of a backtrace.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "no message".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_argument_error_is_its_own_message() {
        let wrapped = DataFusionError::Execution(
            "Function 'p_alive' user-defined coercion failed with: Error during planning: p_alive: expected 4 \
             arguments; got 3. No function matches the given name and argument types 'p_alive(Utf8)'. You might \
             need to add explicit type casts.\n\tCandidate functions:\n\tp_alive(UserDefined)"
                .to_string(),
        );
        assert_eq!(user_message(&wrapped), "p_alive: expected 4 arguments; got 3");
    }

    #[test]
    fn locations() {
        assert_eq!(located(Some("a.sql"), 3, "boom"), "a.sql:3: error: boom");
        assert_eq!(located(None, 3, "boom"), "error: boom");
    }
}
