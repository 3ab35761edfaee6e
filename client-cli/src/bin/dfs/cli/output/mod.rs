//! Output: human text (aligned tables, `hdfs dfs`-like lines, sizes via
//! `human_bytes`, local times) or one JSON document; and the only place that
//! writes text to stdout.
//!
//! The formatting functions are pure (they return strings) so they can be
//! tested; [`emit`] and [`emit_json`] do the writing and turn a closed pipe
//! into [`CliError::BrokenPipe`].
//!
//! Layout: this file holds the writing and what every kind of output
//! shares (aligned [`table`]s, a size with its byte count); the text of
//! each verb group is in [`namespace`] (ls, stat, du, a finished transfer)
//! and [`admin`] (report, fsck, decommission, safe mode, orphans), which use
//! this file and nothing else of the command line.
pub mod admin;
pub mod namespace;

use crate::error::{io_failure, CliError, CliResult};
use dfs_common::units::human_bytes;
use serde::Serialize;
use std::io::Write;

/// Writes `text` to stdout as is.
pub fn emit(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| io_failure("cannot write to stdout", &e))
}

/// Writes `value` as one pretty JSON document and a newline.
pub fn emit_json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    text.push('\n');
    emit(&text)
}

/// Column alignment in [`table`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
}

/// Renders rows as columns separated by one space, each padded to its
/// widest cell; trailing spaces trimmed; every line ends with `\n`.
pub fn table(rows: &[Vec<String>], align: &[Align]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut width = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            let pad = width[i] - cell.chars().count();
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn size_with_bytes(n: u64) -> String {
    if n < 1024 {
        human_bytes(n)
    } else {
        format!("{} ({n} bytes)", human_bytes(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_alignment() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string(), "x".to_string()],
            vec!["bbb".to_string(), "100".to_string(), "".to_string()],
        ];
        assert_eq!(
            table(&rows, &[Align::Left, Align::Right, Align::Left]),
            "a     1 x\nbbb 100\n"
        );
        assert_eq!(table(&[], &[]), "");
    }
}
