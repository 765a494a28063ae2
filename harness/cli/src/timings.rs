//! `doormat audit --timings`: where the audit's CPU time went, per phase,
//! per design and per (design, vector), as a table on standard error and,
//! with `--timings-file`, as JSON.

use doormat_engine::timings::{Phase, Times};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Each (design, vector) pair's times, as the workers finish them, and the
/// phases timed outside any pair.
#[derive(Debug, Default)]
pub struct Collector {
    pairs: Mutex<Vec<(String, String, Times)>>,
    outside: Mutex<Times>,
}

impl Collector {
    /// Keeps a pair's times.
    pub fn pair(&self, design: &str, vector: &str, times: &Times) {
        lock(&self.pairs).push((design.to_owned(), vector.to_owned(), *times));
    }

    /// Counts `d` of doormat's own time in `p`, outside any pair.
    pub fn outside(&self, p: Phase, d: Duration) {
        let mut t = lock(&self.outside);
        *t = t.with_own(p, d);
    }

    /// The pairs, sorted by design then vector, and the sum of everything.
    fn sorted(&self) -> (Vec<(String, String, Times)>, Times) {
        let mut pairs = lock(&self.pairs).clone();
        pairs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut total = *lock(&self.outside);
        for (_, _, t) in &pairs {
            total.add(t);
        }
        (pairs, total)
    }

    /// The table: per phase, doormat's own and the design's CPU time; the
    /// share that is doormat's own; a trial decrypt against a delivery; per
    /// design; the ten largest pairs.
    pub fn table(&self) -> String {
        let (pairs, total) = self.sorted();
        let mut out = String::from("doormat: CPU time by phase (doormat's own, and in the design's calls)\n");
        out.push_str(&format!("  {:<20} {:>10} {:>10} {:>9}\n", "phase", "doormat", "design", "calls"));
        let (mut own, mut design) = (Duration::ZERO, Duration::ZERO);
        for p in Phase::ALL {
            own += total.own(p);
            design += total.design(p);
            if total.own(p).is_zero() && total.design(p).is_zero() {
                continue;
            }
            out.push_str(&format!(
                "  {:<20} {:>10} {:>10} {:>9}\n",
                p.name(),
                secs(total.own(p)),
                secs(total.design(p)),
                total.calls(p)
            ));
        }
        out.push_str(&format!("  {:<20} {:>10} {:>10}\n", "total", secs(own), secs(design)));
        let all = (own + design).as_secs_f64();
        if all > 0.0 {
            out.push_str(&format!(
                "  doormat's own share: {:.1}% of {}\n",
                100.0 * own.as_secs_f64() / all,
                secs(own + design)
            ));
        }
        // A delivery is an entropy hand-over and a decrypt; a trial, a fork
        // and a decrypt: two calls each.
        let per = |p: Phase| match total.calls(p) {
            0 => None,
            n => Some(total.design(p).as_secs_f64() * 2.0 / n as f64),
        };
        if let (Some(trial), Some(plain)) = (per(Phase::Trials), per(Phase::Deliver)) {
            out.push_str(&format!(
                "  a trial decrypt (fork + decrypt): {:.1} µs; a delivery (entropy + decrypt): {:.1} µs; ratio {:.2}\n",
                trial * 1e6,
                plain * 1e6,
                trial / plain
            ));
        }
        out.push_str("  by design:\n");
        let mut designs: Vec<(String, Times)> = Vec::new();
        for (d, _, t) in &pairs {
            match designs.iter_mut().find(|(name, _)| name == d) {
                Some((_, sum)) => sum.add(t),
                None => designs.push((d.clone(), *t)),
            }
        }
        for (d, t) in &designs {
            out.push_str(&format!("    {:<24} {:>10}\n", d, secs(t.total())));
        }
        let mut largest: Vec<&(String, String, Times)> = pairs.iter().collect();
        largest.sort_by(|a, b| b.2.total().cmp(&a.2.total()).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        out.push_str("  the largest (design, vector) pairs:\n");
        for (d, v, t) in largest.into_iter().take(10) {
            out.push_str(&format!("    {:<24} {:<40} {:>10}\n", d, v, secs(t.total())));
        }
        out
    }

    /// Every pair's times and the totals, as JSON (seconds).
    pub fn json(&self) -> String {
        let (pairs, total) = self.sorted();
        let phases = |t: &Times| {
            Phase::ALL
                .iter()
                .filter(|&&p| !(t.own(p).is_zero() && t.design(p).is_zero()))
                .map(|&p| {
                    serde_json::json!({
                        "phase": p.name(),
                        "doormat": t.own(p).as_secs_f64(),
                        "design": t.design(p).as_secs_f64(),
                        "calls": t.calls(p),
                    })
                })
                .collect::<Vec<_>>()
        };
        let body = serde_json::json!({
            "unit": "CPU seconds",
            "total": phases(&total),
            "pairs": pairs.iter().map(|(d, v, t)| serde_json::json!({"design": d, "vector": v, "phases": phases(t)})).collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&body).unwrap_or_default()
    }

    /// Writes [`Collector::json`] to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.json() + "\n")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
