//! Units for flags and TOML: sizes (`ByteSize`: "64MiB", "4KiB", plain
//! bytes) and durations ("3s", "500ms", "1h 30m").
//!
//! Properties: no panic (no overflow: a size too big for u64 is refused);
//! an accepted size equals number × unit by an independent reading of the
//! rules; a plain byte count parses back; a duration prints (`Display`, as
//! in TOML/JSON) in a form that parses back to the very same duration, and
//! serde agrees with `FromStr`.
#![no_main]
use dfs_common::units::{human_bytes, parse_duration, ByteSize, HumanDuration};
use libfuzzer_sys::fuzz_target;

/// The size rules written out: digits, optional spaces, a unit in any case.
fn model_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let unit = t[digits.len()..].trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let size = s.parse::<ByteSize>().ok().map(|b| b.0);
    assert_eq!(size, model_size(s), "size {s:?}");
    if let Some(n) = size {
        assert_eq!(n.to_string().parse::<ByteSize>().map(|b| b.0), Ok(n));
        let _ = human_bytes(n);
        let json = serde_json::to_string(s).expect("a str serializes");
        assert_eq!(
            serde_json::from_str::<ByteSize>(&json).ok().map(|b| b.0),
            Some(n)
        );
    }

    if let Ok(d) = parse_duration(s) {
        let h = HumanDuration(d);
        let shown = h.to_string();
        assert_eq!(
            shown.parse::<HumanDuration>().map(|x| x.0),
            Ok(d),
            "{s:?} → {d:?} prints as {shown:?}, which does not read back"
        );
        let json = serde_json::to_string(&h).expect("encodes");
        assert_eq!(
            serde_json::from_str::<HumanDuration>(&json)
                .map(|x| x.0)
                .ok(),
            Some(d)
        );
    }
});
