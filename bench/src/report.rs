//! The results: every figure for every target, side by side with the ratio
//! Chorus/Centrifugo, printed as a Markdown table and saved as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::targets::Target;

/// Which way a figure is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// More is better (deliveries per second).
    Higher,
    /// Less is better (memory, latency, CPU).
    Lower,
}

/// One measured quantity, for each target that was measured.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The scenario it belongs to.
    pub scenario: String,
    /// What it is, with the load (`deliveries/s, N=1000`).
    pub name: String,
    /// Unit of the values.
    pub unit: &'static str,
    /// Which way is good.
    pub better: Better,
    /// The value per target.
    pub values: BTreeMap<Target, f64>,
}

impl Figure {
    /// Chorus's value divided by Centrifugo's, when both were measured.
    pub fn ratio(&self) -> Option<f64> {
        let chorus = self.values.get(&Target::Chorus)?;
        let peer = self.values.get(&Target::Centrifugo)?;
        (*peer != 0.0).then(|| chorus / peer)
    }
}

/// Everything a run found, in the order it was found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Where and with what the run happened (machine, versions, options).
    pub environment: BTreeMap<String, String>,
    /// One per measured quantity, with a value for each target measured.
    pub figures: Vec<Figure>,
    /// Remarks: sizes adjusted to the machine, targets skipped, series.
    pub notes: Vec<String>,
    /// Things that went wrong: lost deliveries, disconnects, failed scenarios.
    pub problems: Vec<String>,
}

impl Report {
    /// Records `value` for `target` under the figure `(scenario, name)`.
    pub fn record(
        &mut self,
        scenario: &str,
        name: &str,
        unit: &'static str,
        better: Better,
        target: Target,
        value: f64,
    ) {
        println!(
            "  {target} {scenario}: {name} = {} {unit}",
            format_value(value)
        );
        let existing = self
            .figures
            .iter_mut()
            .find(|f| f.scenario == scenario && f.name == name);
        let figure = match existing {
            Some(figure) => figure,
            None => {
                self.figures.push(Figure {
                    scenario: scenario.to_owned(),
                    name: name.to_owned(),
                    unit,
                    better,
                    values: BTreeMap::new(),
                });
                self.figures.last_mut().expect("just pushed")
            }
        };
        figure.values.insert(target, value);
    }

    /// Adds a remark.
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("  note: {text}");
        self.notes.push(text);
    }

    /// Adds a problem.
    pub fn problem(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("  PROBLEM: {text}");
        self.problems.push(text);
    }

    /// The figures as a Markdown table with one column per target in
    /// `targets` and, when both were run, the ratio Chorus/Centrifugo.
    pub fn markdown(&self, targets: &[Target]) -> String {
        let both = targets.contains(&Target::Chorus) && targets.contains(&Target::Centrifugo);
        let mut out = String::from("| scenario | figure | unit |");
        for target in targets {
            let _ = write!(out, " {target} |");
        }
        if both {
            out.push_str(" Chorus/Centrifugo | better |");
        }
        out.push_str("\n| --- | --- | --- |");
        for _ in targets {
            out.push_str(" ---: |");
        }
        if both {
            out.push_str(" ---: | --- |");
        }
        out.push('\n');
        for figure in &self.figures {
            let _ = write!(
                out,
                "| {} | {} | {} |",
                figure.scenario, figure.name, figure.unit
            );
            for target in targets {
                match figure.values.get(target) {
                    Some(v) => {
                        let _ = write!(out, " {} |", format_value(*v));
                    }
                    None => out.push_str(" n/a |"),
                }
            }
            if both {
                let ratio = figure
                    .ratio()
                    .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}"));
                let better = match figure.better {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                };
                let _ = write!(out, " {ratio} | {better} |");
            }
            out.push('\n');
        }
        out
    }

    /// The whole report as Markdown: environment, table, notes, problems.
    pub fn full_markdown(&self, targets: &[Target]) -> String {
        let mut out = String::from("## Environment\n\n");
        for (key, value) in &self.environment {
            let _ = writeln!(out, "- {key}: {value}");
        }
        out.push_str("\n## Figures\n\n");
        out.push_str(&self.markdown(targets));
        for (title, items) in [("Notes", &self.notes), ("Problems", &self.problems)] {
            if !items.is_empty() {
                let _ = writeln!(out, "\n## {title}\n");
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
            }
        }
        out
    }
}

/// A value with as many decimals as its size deserves.
pub fn format_value(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude >= 1000.0 {
        let whole = v.round() as i64;
        group_thousands(whole)
    } else if magnitude >= 100.0 {
        format!("{v:.0}")
    } else if magnitude >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_values() {
        assert_eq!(format_value(1_234_567.4), "1,234,567");
        assert_eq!(format_value(123.4), "123");
        assert_eq!(format_value(12.34), "12.3");
        assert_eq!(format_value(1.234), "1.23");
    }

    #[test]
    fn table_with_ratio() {
        let mut report = Report::default();
        report.record(
            "fanout",
            "deliveries/s, N=1000",
            "1/s",
            Better::Higher,
            Target::Chorus,
            200_000.0,
        );
        report.record(
            "fanout",
            "deliveries/s, N=1000",
            "1/s",
            Better::Higher,
            Target::Centrifugo,
            100_000.0,
        );
        report.record(
            "idle",
            "KiB per connection, N=10",
            "KiB",
            Better::Lower,
            Target::Chorus,
            7.5,
        );
        let table = report.markdown(&[Target::Chorus, Target::Centrifugo]);
        assert!(
            table.contains(
                "| fanout | deliveries/s, N=1000 | 1/s | 200,000 | 100,000 | 2.00 | higher |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| idle | KiB per connection, N=10 | KiB | 7.50 | n/a | n/a | lower |"),
            "{table}"
        );
        let only = report.markdown(&[Target::Chorus]);
        assert!(!only.contains("Chorus/Centrifugo"));
    }
}
