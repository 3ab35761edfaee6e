//! `dfs`: the command-line client. Parsing, verbs and output live in
//! `cli/`, `dfs local` in `local/`; this file only runs them and turns
//! the outcome into an exit status (0 done, 1 failed, 2 misuse).
//!
//! The same lints as the library: no `unwrap`/`expect` outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod error;
mod local;
mod time;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    dfs_common::alloc::tune_for_bulk_data();
    let args = cli::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    // Quiet unless asked: a failure must be exactly one `dfs:` line.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(msg) = e.message() {
                let _ = writeln!(std::io::stderr(), "dfs: {msg}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
