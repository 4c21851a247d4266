//! Where results go: stdout, a file (`-o`, `\o`) or memory (tests and tools).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Where results go.
pub enum Sink {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    File { path: PathBuf, writer: std::io::BufWriter<std::fs::File> },
    Memory(Vec<u8>),
}

impl Sink {
    pub fn stdout() -> Sink {
        Sink::Stdout(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
    }

    pub fn file(path: &Path) -> std::result::Result<Sink, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Sink::File { path: path.to_path_buf(), writer: std::io::BufWriter::new(file) })
    }

    pub fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { writer, .. } => writer,
            Sink::Memory(buffer) => buffer,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, Sink::Stdout(_)) && std::io::stdout().is_terminal()
    }
}

pub fn terminal_width() -> Option<u16> {
    console::Term::stdout().size_checked().map(|(_, columns)| columns)
}
