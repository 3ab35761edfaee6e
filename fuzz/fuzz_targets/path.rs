//! `DfsPath::parse` (the one validator of user paths), checked against an
//! independent model of the CONTRACT rules, plus the properties callers rely
//! on: a valid path re-parses to itself, never holds `..`, `.`, NUL or an
//! empty component, and `parent`/`name`/`join`/`starts_with` agree.
//!
//! Also the path a WebHDFS URL names (`webhdfs::path_from_url`, which
//! percent-decodes the raw URL path): whatever it accepts is a valid path,
//! and every valid path comes back unchanged from its own encoding.
#![no_main]
use dfs_common::path::{check_name, DfsPath, MAX_COMPONENT_BYTES, MAX_DEPTH, MAX_PATH_BYTES};
use dfs_common::proto::webhdfs::{path_from_url, percent_encode, PREFIX};
use libfuzzer_sys::fuzz_target;

/// The CONTRACT rules, written out plainly: `Some(canonical)` when valid.
fn model(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > MAX_PATH_BYTES || !s.starts_with('/') || s.contains('\0') {
        return None;
    }
    if s == "/" {
        return Some("/".into());
    }
    // One trailing slash is tolerated.
    let body = s.strip_suffix('/').unwrap_or(s);
    let comps: Vec<&str> = body[1..].split('/').collect();
    if comps.len() > MAX_DEPTH {
        return None;
    }
    for c in &comps {
        if c.is_empty() || *c == "." || *c == ".." || c.len() > MAX_COMPONENT_BYTES {
            return None;
        }
    }
    Some(body.to_string())
}

/// One component by the rules.
fn model_name_ok(n: &str) -> bool {
    !(n.is_empty()
        || n == "."
        || n == ".."
        || n.contains('/')
        || n.contains('\0')
        || n.len() > MAX_COMPONENT_BYTES)
}

fn check_valid(p: &DfsPath) {
    check_valid_at(p, 2);
}

/// The checks, and those of the parents `levels` up (not all the way: a
/// deep path would make each input quadratic).
fn check_valid_at(p: &DfsPath, levels: u32) {
    let s = p.as_str();
    assert!(s.starts_with('/'), "{s:?} not absolute");
    assert!(s.len() <= MAX_PATH_BYTES);
    assert!(p.components().count() <= MAX_DEPTH);
    assert!(!s.contains('\0'));
    assert!(s == "/" || !s.ends_with('/'), "{s:?} not canonical");
    for c in p.components() {
        assert!(!c.is_empty() && c != "." && c != ".." && c.len() <= MAX_COMPONENT_BYTES);
        assert!(check_name(c).is_ok() && model_name_ok(c));
    }
    assert_eq!(
        p.components().count(),
        if p.is_root() {
            0
        } else {
            s.split('/').count() - 1
        }
    );
    // Re-parses to itself, through the string and through serde.
    assert_eq!(DfsPath::parse(s).as_ref(), Ok(p));
    assert_eq!(p.to_string().parse::<DfsPath>().as_ref(), Ok(p));
    let json = serde_json::to_string(p).expect("a path serializes");
    assert_eq!(
        &serde_json::from_str::<DfsPath>(&json).expect("re-reads"),
        p
    );
    match (p.parent(), p.name()) {
        (None, None) => assert!(p.is_root()),
        (Some(parent), Some(name)) => {
            assert!(p.starts_with(&parent));
            assert!(!parent.starts_with(p));
            assert_eq!(&parent.join(name).expect("rejoins"), p);
            if levels > 0 {
                check_valid_at(&parent, levels - 1);
            }
        }
        other => panic!("parent/name disagree for {s:?}: {other:?}"),
    }
}

/// A valid path survives being put in a WebHDFS URL, its separators kept
/// or escaped as `%2F` (the slash after the prefix is the route's own).
fn url_round_trip(p: &DfsPath) {
    for keep_slash in [true, false] {
        let rel = p.as_str().trim_start_matches('/');
        let url = format!("{PREFIX}/{}", percent_encode(rel, keep_slash));
        assert_eq!(path_from_url(&url).as_ref(), Ok(p), "via {url:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // `path\x01name`: a path, and a name to join onto it.
    let (s, name) = match input.split_once('\u{1}') {
        Some((path, name)) => (path, Some(name)),
        None => (input, None),
    };
    // The raw input as the tail of a WebHDFS URL path.
    if let Ok(p) = path_from_url(&format!("{PREFIX}/{s}")) {
        check_valid(&p);
        // Strict: every `%` it accepted starts exactly two hex digits.
        let b = s.as_bytes();
        for (i, _) in s.match_indices('%') {
            assert!(
                b.get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
                "accepted a malformed escape in {s:?} as {p:?}"
            );
        }
    }
    let parsed = DfsPath::parse(s);
    let expected = model(s);
    assert_eq!(
        parsed.as_ref().ok().map(DfsPath::as_str),
        expected.as_deref(),
        "parse disagrees with the rules for {s:?}: {parsed:?}"
    );
    // serde goes through the same validator.
    let json = serde_json::to_string(s).expect("a str serializes");
    assert_eq!(
        serde_json::from_str::<DfsPath>(&json).ok(),
        parsed.clone().ok()
    );
    let (Ok(p), Some(name)) = (&parsed, name) else {
        if let Ok(p) = &parsed {
            check_valid(p);
            url_round_trip(p);
        }
        return;
    };
    check_valid(p);
    url_round_trip(p);
    match p.join(name) {
        Ok(j) => {
            check_valid(&j);
            assert_eq!(j.parent().as_ref(), Some(p));
            assert_eq!(j.name(), Some(name));
        }
        Err(_) => assert!(
            !model_name_ok(name)
                || p.as_str().len() + usize::from(!p.is_root()) + name.len() > MAX_PATH_BYTES
                || p.components().count() >= MAX_DEPTH,
            "join refused a good name {name:?} under {p:?}"
        ),
    }
});
