//! The bench's output: one [`Row`] per figure, printed as it is measured,
//! the closing table, and the JSON file of a run. Knows nothing of what is
//! measured or how.
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: String,
    pub figure: String,
    pub value: f64,
    pub unit: String,
    /// The limit this figure is compared with, in the same unit.
    pub ceiling: Option<f64>,
    /// What that limit is.
    pub bound: String,
    /// value / ceiling.
    pub ratio: Option<f64>,
    /// The goal for this figure, if it sets one.
    pub goal: Option<String>,
}

/// The figures of a run so far, and the parts that failed.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub failures: Vec<String>,
    /// The part being measured; new rows carry it.
    pub section: String,
}

impl Report {
    /// Records a figure and prints it at once. `ceiling` is the limit it is
    /// held to and what that limit is; `goal` the target, if any.
    pub fn add(
        &mut self,
        figure: impl Into<String>,
        value: f64,
        unit: &str,
        ceiling: Option<(f64, &str)>,
        goal: Option<&str>,
    ) {
        let row = Row {
            section: self.section.clone(),
            figure: figure.into(),
            value,
            unit: unit.into(),
            ceiling: ceiling.map(|c| c.0),
            bound: ceiling.map_or_else(String::new, |c| c.1.to_string()),
            ratio: ceiling.map(|c| value / c.0.max(1e-12)),
            goal: goal.map(str::to_string),
        };
        println!(
            "  {:<46} {:>12} {:<6} {}",
            row.figure,
            fmt_num(row.value),
            row.unit,
            row.ratio
                .map(|r| format!("({} of {})", fmt_ratio(r), row.bound))
                .unwrap_or_default()
        );
        self.rows.push(row);
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 0.095 {
        format!("{r:.2}")
    } else {
        format!("{r:.3}")
    }
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The closing table of a run, in Markdown.
pub fn print_table(rep: &Report, mode: &str, secs: f64) {
    println!("\n== results ({mode} mode, {secs:.0} s)");
    println!(
        "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
        "figure", "value", "unit", "ceiling", "bounded by", "ratio"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|",
        "-".repeat(48),
        "-".repeat(12),
        "-".repeat(8),
        "-".repeat(12),
        "-".repeat(36),
        "-".repeat(8)
    );
    let mut section = "";
    for r in &rep.rows {
        if r.section != section {
            section = &r.section;
            println!(
                "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
                format!("**{section}**"),
                "",
                "",
                "",
                "",
                ""
            );
        }
        println!(
            "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
            r.figure,
            fmt_num(r.value),
            r.unit,
            r.ceiling.map(fmt_num).unwrap_or_default(),
            r.bound,
            r.ratio.map(fmt_ratio).unwrap_or_default()
        );
    }
}

/// What a run was: written beside its figures in the JSON file.
pub struct RunInfo {
    pub mode: String,
    pub started_unix: u64,
    pub started_utc: String,
    pub duration_secs: f64,
    pub git: String,
    pub machine: Vec<(String, String)>,
    pub bin_dir: String,
    pub command: String,
}

/// Writes the run, its ceilings and every row to `path` as JSON (making its
/// directory first).
pub fn write_json(
    path: &Path,
    info: &RunInfo,
    ceilings: &impl Serialize,
    rep: &Report,
) -> Result<()> {
    #[derive(Serialize)]
    struct JsonOut<'a, C> {
        mode: &'a str,
        started_unix: u64,
        started_utc: &'a str,
        duration_secs: f64,
        git: &'a str,
        machine: &'a [(String, String)],
        bin_dir: &'a str,
        command: &'a str,
        ceilings: &'a C,
        rows: &'a [Row],
        failures: &'a [String],
    }
    let out = JsonOut {
        mode: &info.mode,
        started_unix: info.started_unix,
        started_utc: &info.started_utc,
        duration_secs: info.duration_secs,
        git: &info.git,
        machine: &info.machine,
        bin_dir: &info.bin_dir,
        command: &info.command,
        ceilings,
        rows: &rep.rows,
        failures: &rep.failures,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&out)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}
