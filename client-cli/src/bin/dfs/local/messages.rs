//! What `dfs local` tells its user while it runs: progress lines ([`say`]),
//! and, when a service exits on its own, how and where its log is, with
//! the end of that log ([`exited`]).
//!
//! Invariant: best effort. A closed stdout or an unreadable log must never
//! stop a cluster, so write errors are ignored.
use super::layout::Service;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const LOG_TAIL_LINES: usize = 20;
/// At most this much of a log's end is read for its tail.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// A progress line: on stdout, or on stderr with `--json` (stdout then
/// holds the JSON document alone).
pub fn say(json: bool, text: &str) {
    if json {
        let _ = writeln!(std::io::stderr(), "{text}");
    } else {
        let _ = writeln!(std::io::stdout(), "{text}");
    }
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The end of a log file (at most its last [`LOG_TAIL_BYTES`] are read).
fn read_log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    read().unwrap_or_default()
}

/// The last lines of `svc`'s log, on stderr, between markers.
pub fn print_log_tail(svc: &Service) {
    let text = read_log_tail(&svc.log);
    let lines = tail_lines(&text, LOG_TAIL_LINES);
    if lines.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "--- last lines of {} ---", svc.log.display());
    for l in lines {
        let _ = writeln!(err, "{l}");
    }
    let _ = writeln!(err, "---");
}

/// Says on stderr that `svc` exited (`how`: its exit status), with its
/// log's tail; returns the one-line message.
pub fn exited(svc: &Service, how: &str) -> String {
    print_log_tail(svc);
    format!(
        "{} exited unexpectedly ({how}); see its log {}",
        svc.name,
        svc.log.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail_lines("a", 5), ["a"]);
        assert!(tail_lines("", 5).is_empty());
    }

    #[test]
    fn log_tail_reads_the_end_or_nothing() {
        let t = tempfile::tempdir().unwrap();
        let log = t.path().join("x.log");
        assert_eq!(read_log_tail(&log), "");
        let mut text = "y".repeat(100 * 1024);
        text.push_str("\nlast line\n");
        std::fs::write(&log, &text).unwrap();
        let tail = read_log_tail(&log);
        assert_eq!(tail.len() as u64, LOG_TAIL_BYTES);
        assert_eq!(tail_lines(&tail, 1), ["last line"]);
    }
}
