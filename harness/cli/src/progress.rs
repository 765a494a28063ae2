//! A progress bar for long audits: drawn on standard error only when it is
//! a terminal (never in CI logs or pipes), without colours when `NO_COLOR`
//! is set.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Progress over (design, vector) runs.
#[derive(Debug)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar over `total` runs; hidden unless standard error is a terminal.
    pub fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if std::io::stderr().is_terminal() {
            let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let template = if colour {
                "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg}"
            } else {
                "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        Progress(bar)
    }

    /// One run done.
    pub fn tick(&self, design: &str, vector: &str) {
        self.0.set_message(format!("{design}: {vector}"));
        self.0.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
