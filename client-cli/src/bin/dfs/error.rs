//! How a `dfs` command fails: [`CliError`] (misuse, failure, a closed
//! stdout, Ctrl-C) with its exit status and its one `dfs:` line, and the
//! conversions into it from library and local I/O errors.
//!
//! A leaf: every other module of the binary may use it, it uses none.
//!
//! Invariant: a message is one line, whatever the error text held.
use dfs_client::ClientError;
use dfs_common::error::ErrorCode;

/// How a command ended, other than success.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// The command was misused (exit 2).
    Usage(String),
    /// The command failed (exit 1).
    Failed(String),
    /// Stdout was closed by the reader: stop quietly (exit 0).
    BrokenPipe,
    /// Ctrl-C while writing a local file (exit 130, the shell's convention).
    Interrupted,
    /// `test`: what was asked does not hold (exit 1, nothing printed).
    False,
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) | CliError::False => 1,
            CliError::BrokenPipe => 0,
            CliError::Interrupted => 130,
        }
    }

    /// The one line to print after `dfs: `, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => Some(m),
            CliError::BrokenPipe | CliError::False => None,
            CliError::Interrupted => Some("interrupted"),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                CliError::BrokenPipe
            }
            _ => CliError::Failed(one_line(&e.to_string())),
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Keeps the `dfs: ...` message on one line whatever the error text holds.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `e` with a hint in the CLI's own words (the flag or command to use)
/// when `applies` says it is the failure the hint is about.
pub fn hint(e: ClientError, applies: impl FnOnce(&ClientError) -> bool, hint: &str) -> CliError {
    let applies = applies(&e);
    match CliError::from(e) {
        CliError::Failed(m) if applies => CliError::Failed(format!("{m} ({hint})")),
        other => other,
    }
}

/// A local I/O error about `what`, without Rust's "(os error N)" suffix.
pub fn io_failure(what: impl std::fmt::Display, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CliError::BrokenPipe;
    }
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    CliError::Failed(one_line(&format!("{what}: {text}")))
}

pub fn is_not_found(e: &ClientError) -> bool {
    e.code() == ErrorCode::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        let e: CliError =
            ClientError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).into();
        assert_eq!(e, CliError::BrokenPipe);
        assert_eq!(e.exit_code(), 0);
        let e: CliError = ClientError::Invalid("two\nlines".into()).into();
        assert_eq!(e, CliError::Failed("two lines".into()));
        let e = io_failure("x.txt", &std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(
            e,
            CliError::Failed("x.txt: No such file or directory".into())
        );
    }
}
