//! One row per scenario, and the summary table (printed, and written to
//! `target/fault-summary.txt`): what each scenario asked for and was acknowledged, then what
//! the judge found.

use std::path::Path;
use std::time::Duration;

use super::judge::Verdict;

/// What one scenario did and found.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    /// The faults injected, for people ("30 × kill -9 agent").
    pub faults: String,
    pub verdict: Verdict,
    /// From the end of the faults (link back, last kill, last reset) until the three views
    /// agreed.
    pub converge: Duration,
    /// The whole scenario, setup included.
    pub wall: Duration,
}

impl Row {
    /// Panics with every problem the judge found (an empty run among them).
    pub fn assert_clean(&self) {
        assert!(
            self.verdict.clean(),
            "{}: {}",
            self.scenario,
            self.verdict.problems_text()
        );
    }

    fn line(&self) -> String {
        let v = &self.verdict;
        let site = match v.site {
            (0, 0) => "-".to_owned(),
            (requested, sold) => format!("{sold}/{requested}"),
        };
        format!(
            "| {:<29} | {:>9} | {:>5} | {:>9} | {:>8} | {:>4} | {:>10} | {:>7} | {:>7} | {:<5} | {:>12.1} | {:>8.1} | {}",
            self.scenario,
            v.requested,
            v.acknowledged,
            site,
            v.vouchers,
            v.lost,
            v.duplicated,
            v.unknown,
            if v.revenue_equal() { "equal" } else { "DIFFER" },
            if v.clean() { "pass" } else { "FAIL" },
            self.converge.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.faults,
        )
    }
}

/// `requested` and `acked`: vouchers asked for and acknowledged (central and site); `site`:
/// site sales made / requested; `vouchers`: paid vouchers the judge looked for; `judge`: `FAIL`
/// with any problem (the test's message and the suite's error name them).
const HEADER: &str = "| scenario                      | requested | acked | site      | vouchers | lost | duplicated | unknown | revenue | judge | converge (s) | wall (s) | faults\n\
|-------------------------------|-----------|-------|-----------|----------|------|------------|---------|---------|-------|--------------|----------|-------";

/// The table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    for r in rows {
        out.push('\n');
        out.push_str(&r.line());
    }
    out.push('\n');
    out
}

/// Writes `row` to `target/fault-summary/<scenario>.row` and rewrites
/// `target/fault-summary.txt` from every row there (the test harness runs each scenario in its
/// own process; each one's latest row is kept).
pub fn record(target: &Path, row: &Row) -> std::io::Result<String> {
    let rows_dir = target.join("fault-summary");
    std::fs::create_dir_all(&rows_dir)?;
    std::fs::write(rows_dir.join(format!("{}.row", row.scenario)), row.line())?;
    let mut lines: Vec<String> = std::fs::read_dir(&rows_dir)?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "row"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    lines.sort_by(|a, b| (number(a), a).cmp(&(number(b), b)));
    let text = format!("{HEADER}\n{}\n", lines.join("\n"));
    std::fs::write(target.join("fault-summary.txt"), &text)?;
    Ok(text)
}

/// The number a row's scenario name starts with (`| 10-…` is 10), so that 10 sorts after 9.
fn number(line: &str) -> u32 {
    let name = line.trim_start_matches(['|', ' ']);
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(u32::MAX)
}

/// Writes the table of one whole run to `target/fault-summary.txt`.
pub fn write_table(target: &Path, rows: &[Row]) -> std::io::Result<String> {
    let text = table(rows);
    std::fs::create_dir_all(target)?;
    std::fs::write(target.join("fault-summary.txt"), &text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faultkit::judge::{Problem, Verdict};

    #[test]
    fn a_row_shows_the_work_and_fails_an_empty_run() {
        let row = |verdict| Row {
            scenario: "9-example".into(),
            faults: "none".into(),
            verdict,
            converge: Duration::ZERO,
            wall: Duration::from_secs(1),
        };
        let clean = Verdict {
            requested: 12,
            acknowledged: 12,
            site: (2, 2),
            vouchers: 12,
            ..Verdict::default()
        };
        let empty = Verdict {
            problems: vec![Problem::NothingExercised],
            ..Verdict::default()
        };
        let text = table(&[row(clean), row(empty)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let cells =
            |line: &str| -> Vec<String> { line.split('|').map(|c| c.trim().to_owned()).collect() };
        assert_eq!(
            cells(lines[2])[1..11],
            [
                "9-example",
                "12",
                "12",
                "2/2",
                "12",
                "0",
                "0",
                "0",
                "equal",
                "pass"
            ]
        );
        assert_eq!(
            cells(lines[3])[1..11],
            [
                "9-example",
                "0",
                "0",
                "-",
                "0",
                "0",
                "0",
                "0",
                "equal",
                "FAIL"
            ]
        );
    }
}
