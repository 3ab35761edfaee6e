//! What every verb needs ([`Ctx`]: the client, the output mode, whether
//! bars may be drawn) and the one parser of the paths it is given.
//!
//! Invariant: a bad path is misuse (exit 2, `dfs: invalid path: ...`)
//! before any request.
use crate::error::{CliError, CliResult};
use dfs_client::DfsClient;
use dfs_common::path::DfsPath;

/// What every verb needs.
pub struct Ctx {
    pub client: DfsClient,
    pub json: bool,
    /// Progress bars allowed (stderr is a terminal and not `--json`).
    pub progress: bool,
}

/// Parses a user path; a bad one is misuse.
pub fn parse_path(s: &str) -> CliResult<DfsPath> {
    DfsPath::parse(s).map_err(|e| CliError::Usage(format!("invalid path: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_paths_are_misuse() {
        assert_eq!(parse_path("rel").unwrap_err().exit_code(), 2);
        assert!(parse_path("/a/../b")
            .unwrap_err()
            .message()
            .unwrap()
            .starts_with("invalid path"));
        assert_eq!(parse_path("/a/").unwrap().as_str(), "/a");
    }
}
