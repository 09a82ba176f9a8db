//! What a command prints: one JSON document (`--json`) or readable text, built together
//! so the two never drift. Times are Unix seconds in JSON and RFC 3339 UTC in text.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

/// A command's result, in both forms.
#[derive(Debug)]
pub struct Output {
    /// The `--json` document.
    pub json: Value,
    /// The text for a terminal (ends without a newline).
    pub text: String,
}

impl Output {
    /// Both forms.
    pub fn new(json: Value, text: impl Into<String>) -> Self {
        Self {
            json,
            text: text.into(),
        }
    }
}

/// A left-aligned table with a header row; columns separated by two spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push("(none)".to_owned());
    }
    out.join("\n")
}

/// `label: value` lines, labels aligned.
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(l, v)| format!("{:<width$} {v}", format!("{l}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Unix seconds as RFC 3339 UTC (`2026-01-02T03:04:05Z`). A time past the year 9999,
/// which RFC 3339 cannot write, is shown as its unix seconds.
pub fn time(t: u64) -> String {
    let mut out = String::new();
    let written = UNIX_EPOCH
        .checked_add(Duration::from_secs(t))
        .map(|at| write!(out, "{}", humantime::format_rfc3339_seconds(at)));
    match written {
        Some(Ok(())) => out,
        _ => t.to_string(),
    }
}

/// An optional time, `-` when absent.
pub fn opt_time(t: Option<u64>) -> String {
    t.map_or_else(|| "-".to_owned(), time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_formatted_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(time(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(opt_time(None), "-");
        assert_eq!(time(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(time(253_402_300_800), "253402300800");
        assert_eq!(time(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn table_aligned() {
        let t = table(
            &["ID", "NAME"],
            &[
                vec!["a".into(), "x".into()],
                vec!["long-id".into(), "y".into()],
            ],
        );
        assert_eq!(t, "ID       NAME\na        x\nlong-id  y");
        assert_eq!(table(&["ID"], &[]), "ID\n(none)");
    }

    #[test]
    fn fields_aligned() {
        assert_eq!(
            fields(&[("id", "1".into()), ("name", "n".into())]),
            "id:   1\nname: n"
        );
    }
}
