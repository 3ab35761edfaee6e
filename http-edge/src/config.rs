//! What the two servers' configurations share: the precedence rule of
//! every setting ([`layered`]: a flag beats the `--config` file, the file
//! beats the default), and the HTTP limits' three flags ([`LimitsFlags`],
//! flattened into each binary's clap `Cli`), three file keys
//! ([`LimitsFile`]) and their one merge into [`Limits`], validated.
//!
//! Not here: reading or parsing the TOML file. Each server's `FileConfig`
//! declares the three keys itself, beside its own, because serde cannot
//! flatten into a struct that refuses unknown keys (`deny_unknown_fields`),
//! and a typo in a key must stay an error naming it. A process that wants
//! its own wording for a flag's help sets it with clap's `mut_arg`.
use clap::Args;
use dfs_common::limits::Limits;
use dfs_common::units::{parse_duration, ByteSize, HumanDuration};
use std::collections::HashMap;
use std::time::Duration;

/// A setting as a flag or a config file gives it, turned into the value it
/// sets: durations and sizes arrive in their human-readable wrappers.
pub trait SettingValue<T> {
    fn value(self) -> T;
}

impl<T> SettingValue<T> for T {
    fn value(self) -> T {
        self
    }
}

impl SettingValue<Duration> for HumanDuration {
    fn value(self) -> Duration {
        self.0
    }
}

impl SettingValue<u64> for ByteSize {
    fn value(self) -> u64 {
        self.0
    }
}

/// One setting: the flag if given, else the file's value, else `default`.
pub fn layered<T>(
    flag: Option<impl SettingValue<T>>,
    file: Option<impl SettingValue<T>>,
    default: T,
) -> T {
    match flag {
        Some(v) => v.value(),
        None => file.map_or(default, SettingValue::value),
    }
}

/// The limits' command-line flags; unset ones fall back to the file, then
/// to the defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitsFlags {
    /// Time a client has to send a request's head (slowloris guard) [default: 10s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// A request body silent this long is cut off [default: 60s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub body_idle_timeout: Option<Duration>,
    /// Concurrent data streams per client IP; more get 429 [default: 256]
    #[arg(long, value_name = "N")]
    pub max_streams_per_client: Option<u32>,
}

/// The limits' keys as a config file gave them (`request_timeout`,
/// `body_idle_timeout`, `max_streams_per_client`); `None`: not in the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitsFile {
    pub request_timeout: Option<HumanDuration>,
    pub body_idle_timeout: Option<HumanDuration>,
    pub max_streams_per_client: Option<u32>,
}

/// Each limit from its flag, else from the file, else its default; then
/// validated, so a zero is an error naming its flag.
pub fn merge_limits(flags: &LimitsFlags, file: LimitsFile) -> Result<Limits, String> {
    let d = Limits::default();
    let limits = Limits {
        request_timeout: layered(
            flags.request_timeout,
            file.request_timeout,
            d.request_timeout,
        ),
        body_idle_timeout: layered(
            flags.body_idle_timeout,
            file.body_idle_timeout,
            d.body_idle_timeout,
        ),
        max_streams_per_client: layered(
            flags.max_streams_per_client,
            file.max_streams_per_client,
            d.max_streams_per_client,
        ),
    };
    limits.validate()?;
    Ok(limits)
}

/// The help text of each visible flag of `cmd`, by id, or an error naming
/// a flag without one: the binaries' tests use it to check that `--help`
/// says what every flag does.
pub fn flag_help(cmd: &clap::Command) -> Result<HashMap<String, String>, String> {
    let mut help = HashMap::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        match arg.get_help().map(ToString::to_string) {
            Some(h) if !h.trim().is_empty() => help.insert(arg.get_id().to_string(), h),
            _ => return Err(format!("--{} has no help text", arg.get_id())),
        };
    }
    Ok(help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitsFlags,
    }

    fn flags(args: &[&str]) -> LimitsFlags {
        Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
            .unwrap()
            .limits
    }

    fn secs(s: u64) -> Option<HumanDuration> {
        Some(HumanDuration(Duration::from_secs(s)))
    }

    #[test]
    fn layered_takes_the_flag_then_the_file_then_the_default() {
        let none = None::<ByteSize>;
        assert_eq!(layered(Some(ByteSize(1)), Some(ByteSize(2)), 3u64), 1);
        assert_eq!(layered(none, Some(ByteSize(2)), 3u64), 2);
        assert_eq!(layered(none, none, 3u64), 3);
        assert_eq!(layered(None::<u16>, Some(7u16), 3), 7);
    }

    #[test]
    fn a_flag_beats_the_file_which_beats_the_default() {
        assert_eq!(
            merge_limits(&LimitsFlags::default(), LimitsFile::default()),
            Ok(Limits::default())
        );
        let file = LimitsFile {
            request_timeout: secs(5),
            body_idle_timeout: secs(7),
            max_streams_per_client: None,
        };
        let l = merge_limits(&flags(&["--request-timeout", "2s"]), file).unwrap();
        assert_eq!(l.request_timeout, Duration::from_secs(2), "the flag");
        assert_eq!(l.body_idle_timeout, Duration::from_secs(7), "the file");
        assert_eq!(
            l.max_streams_per_client,
            Limits::default().max_streams_per_client,
            "the default"
        );
        let l = merge_limits(&flags(&["--max-streams-per-client", "3"]), file).unwrap();
        assert_eq!(l.max_streams_per_client, 3);
    }

    #[test]
    fn flag_help_names_a_flag_without_one() {
        let help = flag_help(&<Cli as clap::CommandFactory>::command()).unwrap();
        assert!(help["request_timeout"].starts_with("Time a client has"));
        let bare = clap::Command::new("x").arg(clap::Arg::new("bare").long("bare"));
        assert_eq!(flag_help(&bare), Err("--bare has no help text".into()));
    }

    #[test]
    fn a_bad_value_is_a_clear_error() {
        let e = merge_limits(
            &flags(&["--body-idle-timeout", "0s"]),
            LimitsFile::default(),
        )
        .unwrap_err();
        assert!(e.contains("--body-idle-timeout"), "{e}");
        let file = LimitsFile {
            max_streams_per_client: Some(0),
            ..LimitsFile::default()
        };
        let e = merge_limits(&LimitsFlags::default(), file).unwrap_err();
        assert!(e.contains("--max-streams-per-client"), "{e}");
        let e = Cli::try_parse_from(["server", "--request-timeout", "soon"]).unwrap_err();
        assert!(e.to_string().contains("--request-timeout"), "{e}");
    }
}
