//! Sizes ("64MiB", "4KiB", "1GB", plain bytes) and durations ("3s", "500ms")
//! as flags and TOML values.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of bytes, parsed from a human size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a size (examples: 4096, 4KiB, 64MiB, 1GiB)")]
pub struct BadSize(pub String);

impl FromStr for ByteSize {
    type Err = BadSize;
    fn from_str(s: &str) -> Result<Self, BadSize> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(BadSize(s.to_string()));
        }
        let n: u64 = num.parse().map_err(|_| BadSize(s.to_string()))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1000,
            "kib" => 1 << 10,
            "m" | "mb" => 1000 * 1000,
            "mib" => 1 << 20,
            "g" | "gb" => 1000 * 1000 * 1000,
            "gib" => 1 << 30,
            "t" | "tb" => 1000 * 1000 * 1000 * 1000,
            "tib" => 1 << 40,
            _ => return Err(BadSize(s.to_string())),
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| BadSize(s.to_string()))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// "0 B", "1023 B", "1.0 KiB", "64.0 MiB"...
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}
impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Parses "3s", "500ms", "2m", "1h 30m".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // humantime 2.4 panics ("overflow in Duration::new") when the sum of the
    // parts reaches u64::MAX seconds through a carry from the sub-second
    // parts (`18446744073709551615s500ms500ms`, found by the `units` fuzz
    // target). Refuse anything whose parts could add up to that: every
    // number counted as years (the largest unit), plus one carry a part.
    // Digits split only by whitespace count as one number: humantime reads
    // "18446 744073709551615s" as one (found by the fuzz target too).
    const YEAR_SECS: u128 = 31_557_600;
    let bound = s
        .split(|c: char| !c.is_ascii_digit() && !c.is_whitespace())
        .map(|run| run.split_whitespace().collect::<String>())
        .filter(|run| !run.is_empty())
        .map(|run| run.parse::<u128>().unwrap_or(u128::MAX))
        .fold(0u128, |acc, n| {
            acc.saturating_add(n.saturating_mul(YEAR_SECS))
                .saturating_add(1)
        });
    if bound >= u128::from(u64::MAX) {
        return Err(format!("{s:?} is too long a duration"));
    }
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration (examples: 500ms, 3s, 2m): {e}"))?;
    // And at most half of u64::MAX seconds, so that every duration accepted
    // also reads back from how it prints ("584542046090years 3months ...").
    if d.as_secs() > u64::MAX / 2 {
        return Err(format!("{s:?} is too long a duration"));
    }
    Ok(d)
}

/// A duration that reads and writes as "3s" in TOML and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(HumanDuration)
    }
}
impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        assert_eq!("4KiB".parse::<ByteSize>().unwrap().0, 4096);
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("1 GiB".parse::<ByteSize>().unwrap().0, 1 << 30);
        assert_eq!("1mb".parse::<ByteSize>().unwrap().0, 1_000_000);
        for bad in ["", "MiB", "12XB", "-1", "1.5MiB", "99999999999999999999"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        assert!("99999999999TiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
        let d: HumanDuration = serde_json::from_str("\"2s\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(2));
        let b: ByteSize = serde_json::from_str("\"1MiB\"").unwrap();
        assert_eq!(b.0, 1 << 20);
    }

    /// Found by the `units` fuzz target: humantime panicked on this.
    #[test]
    fn huge_durations_are_refused_not_a_panic() {
        for s in [
            "18446744073709551615s500ms500ms",
            "18446744073709551615s",
            "999999999999999999999999999999y",
            // humantime joins digits split by whitespace into one number.
            "18446\n744073709551615s5\n00ms 500ms",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
            assert!(s.parse::<HumanDuration>().is_err(), "{s}");
        }
        // The longest accepted duration reads back from how it prints.
        let max = HumanDuration(Duration::from_secs(u64::MAX / 2));
        assert_eq!(max.to_string().parse::<HumanDuration>(), Ok(max));
        assert!(parse_duration(&format!("{}s", u64::MAX / 2 + 1)).is_err());
        // The fuzz target's find, whole: refused, not a panic.
        let found = include_str!("../../fuzz/corpus/units/joined-digits-overflow");
        assert!(parse_duration(found).is_err());
        assert_eq!(parse_duration("1h 30m").unwrap().as_secs(), 5_400);
        let long = parse_duration("100000y 5s").unwrap();
        assert_eq!(long.as_secs(), 100_000 * 31_557_600 + 5);
    }
}
