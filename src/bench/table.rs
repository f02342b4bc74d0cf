//! The benchmark's output: one row per measurement, printed as a table
//! (with the machine it ran on) or as JSON.

use serde::Serialize;

/// One measurement, and how it compares with its reference.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// The value as the table shows it (may add a second unit, e.g. Mpps).
    #[serde(skip)]
    shown: String,
    /// What `ratio` compares with: value / the reference's value.
    pub reference: Option<String>,
    pub ratio: Option<f64>,
    pub note: String,
}

impl Row {
    pub fn new(section: &'static str, name: String, value: f64, unit: &'static str) -> Row {
        Row {
            section,
            name,
            value,
            unit,
            shown: format!("{} {unit}", number(value)),
            reference: None,
            ratio: None,
            note: String::new(),
        }
    }

    pub fn shown(mut self, text: String) -> Row {
        self.shown = text;
        self
    }

    pub fn versus(mut self, reference: impl Into<String>, ratio: f64) -> Row {
        self.reference = Some(reference.into());
        self.ratio = Some(ratio);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// Three significant digits or so: 0.123, 12.3, 1234.
fn number(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 || v == 0.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        v if v >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

/// What the numbers were measured on.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub build: &'static str,
}

impl Machine {
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown CPU".into(), |(_, model)| model.trim().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".into(), |r| r.trim().to_string());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel,
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// Prints the rows as an aligned table, or as one JSON object.
pub fn print(rows: &[Row], json: bool) {
    let machine = Machine::this();
    if json {
        let all = serde_json::json!({ "machine": machine, "rows": rows });
        println!("{all}");
        return;
    }
    println!(
        "machine: {} CPUs, {}, Linux {}; xdp-loader {} build",
        machine.cpus, machine.cpu_model, machine.kernel, machine.build
    );
    let header = ["section", "measurement", "value", "vs", "ratio", "note"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.section.to_string(),
                r.name.clone(),
                r.shown.clone(),
                r.reference.clone().unwrap_or_default(),
                r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                r.note.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            match i {
                // Numbers read best right-aligned.
                2 | 4 => out.push_str(&format!("{cell:>width$}  ")),
                5 => out.push_str(cell),
                _ => out.push_str(&format!("{cell:<width$}  ")),
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in &cells {
        line(row.each_ref().map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_digits() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1234.4), "1234");
    }
}
