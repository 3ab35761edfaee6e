//! Timestamps as `ls`, `stat` and the `dfs local` logs show them: local
//! time, `YYYY-MM-DD HH:MM[:SS]`, without a time-zone crate (the calendar
//! arithmetic is Howard Hinnant's, the offset the C library's).
//!
//! A leaf: it uses no other module of the binary.
/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD HH:MM[:SS]` of seconds since the epoch, already shifted to
/// the wanted time zone.
pub fn format_datetime(secs: i64, with_seconds: bool) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let (h, mi, s) = (t / 3600, (t / 60) % 60, t % 60);
    if with_seconds {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
    }
}

/// This machine's UTC offset at `secs` (what `ls` shows is local time).
fn local_offset(secs: i64) -> i64 {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: localtime_r only writes into the `tm` we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff as i64
    } else {
        0
    }
}

/// A millisecond timestamp in local time.
pub fn local_time(ms: u64, with_seconds: bool) -> String {
    let secs = (ms / 1000) as i64;
    format_datetime(secs + local_offset(secs), with_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_datetime(0, false), "1970-01-01 00:00");
        assert_eq!(format_datetime(1_700_000_000, true), "2023-11-14 22:13:20");
        assert_eq!(format_datetime(951_782_400, false), "2000-02-29 00:00");
        assert_eq!(
            format_datetime(4_107_542_400 - 60, false),
            "2100-02-28 23:59"
        );
        assert_eq!(format_datetime(-1, true), "1969-12-31 23:59:59");
    }
}
