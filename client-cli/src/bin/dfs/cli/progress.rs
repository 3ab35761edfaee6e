//! Progress bars for transfers: an indicatif bar behind the library's
//! [`Progress`] trait.
//!
//! A [`Bar`] draws only when the caller allowed it (stderr is a terminal and
//! not `--json`); otherwise it is inert, so nothing is ever drawn into a pipe
//! or a log. The bar clears itself when dropped, so an error line printed
//! after a failed transfer starts on a clean line. [`say_done`] prints the
//! line that stays once a transfer is done.
use super::output::namespace::transfer_line;
use dfs_client::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar for `len` bytes (a spinner when the length is unknown).
    pub fn new(enabled: bool, len: Option<u64>, label: &str) -> Self {
        if !enabled {
            return Bar(None);
        }
        let bar = match len {
            Some(n) => {
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                    .with_style(style)
            }
            None => {
                let style = ProgressStyle::with_template(
                    "{spinner} {msg} {binary_bytes} {binary_bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(style);
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
        };
        bar.set_message(shorten(label, 40));
        Bar(Some(bar))
    }

    /// A bar that draws nothing.
    pub fn none() -> Self {
        Bar(None)
    }
}

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// One self-updating status line on stderr (e.g. `setrep -w` waiting), or
/// nothing when not allowed; cleared when dropped.
pub struct StatusLine(Option<ProgressBar>);

impl StatusLine {
    pub fn new(enabled: bool) -> Self {
        if !enabled {
            return StatusLine(None);
        }
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar =
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        StatusLine(Some(bar))
    }

    pub fn set(&self, text: String) {
        if let Some(b) = &self.0 {
            b.set_message(text);
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The one-line summary of a finished transfer, on stderr (stdout may be
/// the data, or JSON).
pub fn say_done(verb: &str, from: &str, to: &str, bytes: u64, started: std::time::Instant) {
    use std::io::Write;
    let line = transfer_line(verb, from, to, bytes, started.elapsed().as_secs_f64());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Keeps the end of a long label (the file name matters most).
fn shorten(label: &str, max: usize) -> String {
    let n = label.chars().count();
    if n <= max {
        return label.to_string();
    }
    let tail: String = label.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_bar_is_inert() {
        let b = Bar::new(false, Some(10), "x");
        b.advance(5);
        assert!(b.0.is_none());
        Bar::none().advance(1);
        let l = StatusLine::new(false);
        l.set("x".into());
        assert!(l.0.is_none());
    }

    #[test]
    fn labels() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "…efgh");
    }
}
