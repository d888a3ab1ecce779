//! One result per scenario: printed as a table row and, with `--json`, as one
//! JSON object.

use serde_json::{Value, json};

/// What a figure is held against.
#[derive(Debug, Clone)]
pub(crate) struct Against {
    /// `limit_1`, `limit_n` or another scenario's name.
    pub(crate) name: String,
    pub(crate) per_sec: f64,
    /// The ratio the issue asks for, if any.
    pub(crate) target: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) jobs: u64,
    pub(crate) seconds: f64,
    pub(crate) against: Option<Against>,
    /// Milliseconds: p50, p99, max.
    pub(crate) latency_ms: Option<[f64; 3]>,
    pub(crate) rss_peak_mib: Option<f64>,
    pub(crate) note: Option<String>,
}

impl Row {
    pub(crate) fn jobs_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.jobs as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn ratio(&self) -> Option<f64> {
        self.against
            .as_ref()
            .filter(|a| a.per_sec > 0.0)
            .map(|a| self.jobs_per_sec() / a.per_sec)
    }

    pub(crate) fn json(&self, backend: &str) -> Value {
        json!({
            "scenario": self.scenario,
            "backend": backend,
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "jobs_per_sec": round(self.jobs_per_sec(), 1),
            "limit_name": self.against.as_ref().map(|a| a.name.clone()),
            "limit_per_sec": self.against.as_ref().map(|a| round(a.per_sec, 1)),
            "ratio": self.ratio().map(|r| round(r, 3)),
            "target_ratio": self.against.as_ref().and_then(|a| a.target),
            "latency_ms": self.latency_ms.map(|[p50, p99, max]| json!({
                "p50": round(p50, 2), "p99": round(p99, 2), "max": round(max, 2)
            })),
            "rss_peak_mib": self.rss_peak_mib.map(|m| round(m, 1)),
            "note": self.note,
        })
    }
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

pub(crate) fn print_table(backend: &str, limits: &[(String, f64)], rows: &[Row]) {
    println!("queuetopia-bench on {backend}");
    for (name, per_sec) in limits {
        println!("  {name:<10} {per_sec:>10.0} one-row UPDATE commits/s");
    }
    println!(
        "  {:<26} {:>7} {:>8} {:>9}  {:<18} {:>9} {:>6} {:>6}  extra",
        "scenario", "jobs", "seconds", "jobs/s", "against", "its /s", "ratio", "target"
    );
    for r in rows {
        let (name, per_sec, target) = match &r.against {
            Some(a) => (
                a.name.clone(),
                format!("{:.0}", a.per_sec),
                a.target.map(|t| format!("{t}")).unwrap_or_default(),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let mut extra = Vec::new();
        if let Some([p50, p99, max]) = r.latency_ms {
            extra.push(format!("p50/p99/max {p50:.2}/{p99:.2}/{max:.2} ms"));
        }
        if let Some(m) = r.rss_peak_mib {
            extra.push(format!("peak RSS {m:.1} MiB"));
        }
        if let Some(n) = &r.note {
            extra.push(n.clone());
        }
        println!(
            "  {:<26} {:>7} {:>8.2} {:>9.0}  {:<18} {:>9} {:>6} {:>6}  {}",
            r.scenario,
            r.jobs,
            r.seconds,
            r.jobs_per_sec(),
            name,
            per_sec,
            r.ratio().map(|x| format!("{x:.2}")).unwrap_or_default(),
            target,
            extra.join("; ")
        );
    }
}
