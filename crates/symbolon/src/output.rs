//! Standard output for every command: `outln!` and `out!` write like `println!` and
//! `print!`, but return an error instead of panicking when the write fails.
//!
//! Rust ignores SIGPIPE, so once a reader closes the pipe (`symbolon … | head`) every
//! write fails with `EPIPE`, and `println!` turns that into a panic. A closed standard
//! output is reported as [`StdoutClosed`] instead, which `main` ends quietly with exit
//! code 0, as the reader has taken all it wanted (ripgrep does the same). Only a failed
//! write to standard output becomes `StdoutClosed`: a broken pipe anywhere else (a peer
//! hanging up on an HTTP request) stays an error.

use std::fmt;
use std::io::{self, Write};

/// Standard output was closed by its reader.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub(crate) struct StdoutClosed;

/// Writes `args` to standard output; `line` adds a newline. A closed pipe becomes
/// [`StdoutClosed`], any other failure the I/O error.
pub(crate) fn write(args: fmt::Arguments<'_>, line: bool) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let result = out
        .write_fmt(args)
        .and_then(|()| if line { out.write_all(b"\n") } else { Ok(()) })
        // Line buffering keeps a partial line back; flush so a closed pipe shows now.
        .and_then(|()| out.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Whether `error` is (or was caused by) a closed standard output.
pub(crate) fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|c| c.is::<StdoutClosed>())
}

/// `println!` that returns `anyhow::Result<()>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*), true)
    };
}

/// `print!` that returns `anyhow::Result<()>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*), false)
    };
}
