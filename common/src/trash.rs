//! Where the trash is, and the names in it (HDFS's `TrashPolicyDefault`
//! layout): a user's trash is `/user/<user>/.Trash`; what they delete goes
//! to `Current/<original path>` below it; the namenode rolls `Current`
//! into checkpoints named by the time they were made (`yyMMddHHmmss`, UTC
//! here) and removes a checkpoint once it is older than the trash interval.
use crate::path::{DfsPath, PathError};
use std::time::{Duration, UNIX_EPOCH};

/// The trash directory's name in a user's home.
pub const TRASH_DIR: &str = ".Trash";
/// Where deleted paths land inside a trash.
pub const CURRENT: &str = "Current";
/// The parent of every home directory.
pub const USER_DIR: &str = "/user";

/// `/user/<user>/.Trash`.
pub fn trash_root(user: &str) -> Result<DfsPath, PathError> {
    DfsPath::parse(USER_DIR)?.join(user)?.join(TRASH_DIR)
}

/// Whether `path` is a trash (`/user/<someone>/.Trash`) or inside one.
/// Deleting such a path deletes it at once, as in HDFS.
pub fn in_a_trash(path: &DfsPath) -> bool {
    let mut c = path.components();
    c.next() == Some("user") && c.next().is_some() && c.next() == Some(TRASH_DIR)
}

/// The path a trashed entry had before it was deleted: `/a/b` for
/// `/user/u/.Trash/<Current or a checkpoint>/a/b`; `None` for paths that
/// are not inside a trash's `Current` or checkpoint.
pub fn original_path(path: &DfsPath) -> Option<DfsPath> {
    if !in_a_trash(path) {
        return None;
    }
    let rest: Vec<&str> = path.components().skip(4).collect();
    if rest.is_empty() {
        return None;
    }
    DfsPath::parse(&format!("/{}", rest.join("/"))).ok()
}

/// The name of a checkpoint made at `unix_ms` (`yyMMddHHmmss`, UTC).
pub fn checkpoint_name(unix_ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(unix_ms);
    // "2026-12-05T03:40:37Z" -> "261205034037"
    let iso = humantime::format_rfc3339_seconds(t).to_string();
    iso.chars()
        .skip(2)
        .filter(char::is_ascii_digit)
        .take(12)
        .collect()
}

/// When the checkpoint named `name` was made (ms since the epoch), or
/// `None` when `name` is not a checkpoint's (`Current`, or anything a user
/// put there). A suffix `-N` (two checkpoints in one second) is allowed.
pub fn checkpoint_time(name: &str) -> Option<u64> {
    let stamp = name.split_once('-').map_or(name, |(s, n)| {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            ""
        } else {
            s
        }
    });
    if stamp.len() != 12 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = |i: usize| &stamp[i..i + 2];
    let iso = format!("20{}-{}-{}T{}:{}:{}Z", d(0), d(2), d(4), d(6), d(8), d(10));
    let t = humantime::parse_rfc3339(&iso).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DfsPath {
        DfsPath::parse(s).unwrap()
    }

    #[test]
    fn a_users_trash_and_what_is_inside_one() {
        assert_eq!(trash_root("alice").unwrap(), p("/user/alice/.Trash"));
        assert!(trash_root("a/b").is_err());
        assert!(in_a_trash(&p("/user/alice/.Trash")));
        assert!(in_a_trash(&p("/user/bob/.Trash/Current/x")));
        assert!(!in_a_trash(&p("/user/alice")));
        assert!(!in_a_trash(&p("/user/alice/Trash/x")));
        assert!(!in_a_trash(&p("/data/alice/.Trash/x")));
        assert!(!in_a_trash(&p("/user/.Trash")));
    }

    #[test]
    fn the_original_path_of_a_trashed_entry() {
        let o = |s: &str| original_path(&p(s));
        assert_eq!(o("/user/u/.Trash/Current/a/b"), Some(p("/a/b")));
        assert_eq!(o("/user/u/.Trash/261205034037/a"), Some(p("/a")));
        assert_eq!(o("/user/u/.Trash/Current"), None);
        assert_eq!(o("/user/u/.Trash"), None);
        assert_eq!(o("/a/b"), None);
    }

    #[test]
    fn checkpoint_names_round_trip_in_hdfs_format() {
        // 2026-12-05T03:40:37Z
        let ms = 1_796_442_037_000;
        assert_eq!(checkpoint_name(ms), "261205034037");
        assert_eq!(checkpoint_time("261205034037"), Some(ms));
        assert_eq!(checkpoint_time("261205034037-2"), Some(ms));
        assert_eq!(checkpoint_name(ms + 999), "261205034037");
        for bad in [
            "Current",
            "",
            "2612050340",
            "26120503403x",
            "261205034037-",
            "261305034037",
            "261205034037-x",
        ] {
            assert_eq!(checkpoint_time(bad), None, "{bad:?}");
        }
    }
}
