//! What a run measured on: the machine (CPU, cores, memory, kernel, load
//! at the start), the git state of the code, and a UTC time stamp for file
//! names. Read once per run; no measurement here.
use std::path::Path;
use std::process::{Command, Stdio};

/// (name, value) pairs describing this machine.
pub fn machine_info() -> Vec<(String, String)> {
    let mut v = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    v.push(("nproc".into(), cpus.to_string()));
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    v.push(("cpu".into(), cpu));
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_string()))
        .unwrap_or_default();
    v.push(("memory".into(), mem));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    v.push(("kernel".into(), kernel.trim().to_string()));
    // Other work on the machine skews every figure: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    v.push(("load average at start".into(), load.join(" ")));
    v
}

/// HEAD's commit, and whether the work tree differs from it.
pub fn git_state() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{head} with uncommitted work")
            } else {
                head
            }
        }
        None => "unknown".into(),
    }
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
pub fn utc_stamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
