//! Expected deviations: a per-design file, for CI gates, that maps
//! vector/property patterns to a mandatory reason, like tlsfuzzer's
//! expected failures. An expected failure does not fail the gate; an
//! expected failure that no longer happens does, so the file stays honest.
//!
//! ```yaml
//! design: ghost
//! deviations:
//!   - vector: "ghost-*"          # a glob over vector ids
//!     property: recipients-only  # a property id, or "*"
//!     reason: The ghost design lets the provider add readers; tracked in ISSUE-12
//! ```

use crate::error::{LoadError, LoadErrors};
use crate::locate;
use crate::property::Property;
use serde::Deserialize;

/// A parsed deviations file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviations {
    /// The design they apply to.
    pub design: String,
    /// The expected deviations.
    pub deviations: Vec<Deviation>,
}

/// One expected deviation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// Glob over vector ids (`*`, `?`, `[...]`).
    pub vector: String,
    /// A property id, or `*` for every property.
    pub property: String,
    /// Why it is expected (mandatory).
    pub reason: String,
}

impl Deviation {
    /// Whether it covers `property` in `vector`.
    pub fn covers(&self, vector: &str, property: Property) -> bool {
        (self.property == "*" || self.property == property.id())
            && glob::Pattern::new(&self.vector).is_ok_and(|p| p.matches(vector))
    }
}

impl Deviations {
    /// Parses and checks a deviations file.
    pub fn parse(file: &str, src: &str) -> Result<Deviations, LoadErrors> {
        let d: Deviations = crate::yaml::parse(file, src)?;
        let mut errors = Vec::new();
        let spans = if d.deviations.is_empty() { None } else { locate::items(src, &[], "deviations") };
        for (i, dev) in d.deviations.iter().enumerate() {
            let span = spans.as_ref().and_then(|s| s.get(i).copied());
            let (l, c) = span.map_or((None, None), |s| (Some(s.line), Some(s.column)));
            if dev.reason.trim().is_empty() {
                errors.push(LoadError::at(
                    file,
                    src,
                    l,
                    c,
                    "a deviation needs a `reason`: expected why it is expected",
                ));
            }
            if dev.property != "*" && !Property::ALL.iter().any(|p| p.id() == dev.property) {
                let ids: Vec<&str> = Property::ALL.iter().map(|p| p.id()).collect();
                errors.push(LoadError::at(
                    file,
                    src,
                    l,
                    c,
                    format!("unknown property `{}`: expected `*` or one of {}", dev.property, ids.join(", ")),
                ));
            }
            if let Err(e) = glob::Pattern::new(&dev.vector) {
                errors.push(LoadError::at(file, src, l, c, format!("bad vector pattern `{}`: {e}", dev.vector)));
            }
        }
        if errors.is_empty() {
            Ok(d)
        } else {
            Err(LoadErrors(errors))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_reasons() {
        let d = Deviations::parse(
            "x.yaml",
            "design: ghost\ndeviations:\n  - vector: \"ghost-*\"\n    property: recipients-only\n    reason: known\n  - vector: tamper\n    property: \"*\"\n    reason: also known\n",
        )
        .unwrap();
        assert!(d.deviations[0].covers("ghost-mid-group", Property::RecipientsOnly));
        assert!(!d.deviations[0].covers("ghost-mid-group", Property::ChangeVisible));
        assert!(!d.deviations[0].covers("one-to-one", Property::RecipientsOnly));
        assert!(d.deviations[1].covers("tamper", Property::Integrity));
        let bad = Deviations::parse(
            "x.yaml",
            "design: g\ndeviations:\n  - vector: a\n    property: nope\n    reason: \"\"\n",
        )
        .unwrap_err();
        assert_eq!(bad.0.len(), 2);
        assert!(bad.to_string().contains("x.yaml:3:3: a deviation needs a `reason`"), "{bad}");
    }
}
