//! Report renderers: the per-design Markdown and JSON reports, the
//! cross-design scorecard, the same as HTML pages, and sequence diagrams
//! (Mermaid for Markdown, inline SVG for HTML).
//!
//! **Invariants:** rendering is a pure function of its inputs: no clock, no
//! environment, no hash-map iteration order, so the same inputs give
//! byte-identical files. Reports quote harness-made facts (canaries' message
//! ids, steps, record numbers, offsets), never bytes an implementation's own
//! randomness chose.

pub mod audit;
pub mod gate;
pub mod html;
pub mod inert;
pub mod junit;
pub mod layout;
pub mod markdown;
pub mod mermaid;
pub mod sarif;
pub mod scorecard;
pub mod shard;
mod story;
pub mod svg;

pub use audit::{Claim, DesignAudit, InShort, Outcome, PropertySummary, StatedLimit, LEGEND, SCHEMA_VERSION};
pub use gate::{Gate, GateItem, GateKind};
pub use html::{render_html, render_html_index};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use sarif::render_sarif;
pub use scorecard::render_scorecard;

/// The JSON report (pretty, ending in a newline).
pub fn render_json(audit: &DesignAudit) -> String {
    let mut s = serde_json::to_string_pretty(audit).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
