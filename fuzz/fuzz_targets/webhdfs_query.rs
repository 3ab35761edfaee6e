//! Query and form parsing as the namenode and datanode do it (WebHDFS
//! parameters, seed endpoint forms): the raw string → ordered pairs
//! (`webhdfs::parse_query`, strict percent-decoding) →
//! `webhdfs::Params::parse` → `Op::parse`.
//!
//! Properties: no panic; `parse_query` agrees with an independent strict
//! decoder (every `%` starts exactly two hex digits, the result is UTF-8);
//! pairs re-encoded with `percent_encode` (as `Location` redirects are
//! built) parse back to the same pairs; accepted values are in range
//! (replication ≥ 1, permission ≤ 0o1777, block size ≥ 1); the first of a
//! repeated parameter wins; an op parses back from its own name.
#![no_main]
use dfs_common::proto::webhdfs::{
    parse_bool, parse_permission, parse_query, percent_encode, Method, Op, Params,
};
use libfuzzer_sys::fuzz_target;

type Pairs = Vec<(String, String)>;

/// Strict `application/x-www-form-urlencoded` decoding of one name or value.
fn model_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = (*b.get(i + 1)? as char).to_digit(16)?;
                let lo = (*b.get(i + 2)? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn model_query(q: &str) -> Option<Pairs> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((model_decode(k)?, model_decode(v)?))
        })
        .collect()
}

fn first<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_query(query);
    assert_eq!(
        parsed.as_ref().ok(),
        model_query(query).as_ref(),
        "parse_query({query:?}) = {parsed:?}"
    );
    let Ok(pairs) = parsed else {
        return;
    };

    // Re-encoded (as redirects are built), the pairs read back the same.
    for keep_slash in [false, true] {
        let enc: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encode(k, keep_slash),
                    percent_encode(v, keep_slash)
                )
            })
            .collect();
        let enc = enc.join("&");
        assert!(enc.bytes().all(|b| b.is_ascii_graphic()), "{enc:?}");
        let back = parse_query(&enc).expect("encoded pairs parse");
        assert_eq!(back, pairs, "via {enc:?}");
    }

    if let Ok(p) = Params::parse(&pairs) {
        if let Some(r) = p.replication {
            assert!(r >= 1);
        }
        if let Some(m) = p.permission {
            assert!(m <= 0o1777);
            assert_eq!(parse_permission(&format!("{m:o}")), Ok(m));
        }
        if let Some(b) = p.block_size {
            assert!(b >= 1);
        }
        // The first of a repeated name wins (HdfsCLI repeats user.name).
        let user = first(&pairs, "user.name").filter(|u| !u.is_empty());
        assert_eq!(p.user.as_deref(), user);
        assert_eq!(p.user_or_default(), user.unwrap_or("dr.who"));
        if let Some(v) = first(&pairs, "overwrite") {
            assert_eq!(p.overwrite, parse_bool("overwrite", v).ok());
        }
        if let Some(raw) = &p.op {
            for m in [Method::Get, Method::Put, Method::Post, Method::Delete] {
                if let Ok(op) = Op::parse(raw, m) {
                    assert!(op.name().eq_ignore_ascii_case(raw.trim()));
                    assert_eq!(Op::parse(op.name(), m), Ok(op));
                    assert_eq!(Op::parse(&op.name().to_ascii_lowercase(), m), Ok(op));
                }
            }
        }
        // Parsing is a function of the pairs.
        assert_eq!(Params::parse(&pairs).as_ref(), Ok(&p));
    }
});
