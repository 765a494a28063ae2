//! Design specifications: what a design is, who takes part, and what its
//! promoters claim. The audit compares these claims with observations.

use crate::error::{LoadError, LoadErrors};
use crate::ids::valid_name;
use crate::locate;
use crate::property::Property;
use serde::Deserialize;

/// A parsed `specs/<id>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The design's id; equals the file stem.
    pub id: String,
    /// A short human title.
    pub title: String,
    /// What the design is, for a policy reader.
    pub summary: String,
    /// Which implementation the spec describes.
    pub implementation: Implementation,
    /// Declared third-party roles (escrow agent, scanning service, ...).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The properties the design claims, as its promoters state them.
    pub claims: Vec<Property>,
    /// What the promoters say, quoted (optional).
    #[serde(default)]
    pub promise: Option<String>,
    /// Design-specific limits of a black-box audit, added to the report.
    #[serde(default)]
    pub cannot_see: Vec<String>,
}

/// Where the implementation comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Implementation {
    /// A design compiled into doormat, by name.
    Builtin(String),
}

/// A declared third party that the design gives data to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The role's id.
    pub id: String,
    /// What the role is, in plain words.
    pub description: String,
}

impl Spec {
    /// Parses and checks a spec. `stem` is the file stem the id must equal.
    pub fn parse(file: &str, stem: &str, src: &str) -> Result<Spec, LoadErrors> {
        let spec: Spec = crate::yaml::parse(file, src)?;
        let mut errors = Vec::new();
        let at_key = |key: &str, msg: String| {
            let (l, c) = locate::top_key(src, key).map_or((None, None), |(l, c)| (Some(l), Some(c)));
            LoadError::at(file, src, l, c, msg)
        };
        if spec.id != stem {
            errors.push(at_key("id", format!("spec id `{}` does not match the file name: expected `{stem}`", spec.id)));
        }
        if !valid_name(&spec.id) {
            errors.push(at_key(
                "id",
                format!("spec id `{}` is not a valid name: expected lowercase letters, digits, `-` or `_`", spec.id),
            ));
        }
        if spec.claims.is_empty() {
            errors.push(at_key("claims", "a spec must claim at least one property".to_owned()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &spec.claims {
            if !seen.insert(*p) {
                errors.push(at_key("claims", format!("property `{p}` is claimed twice")));
            }
        }
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(LoadErrors(errors))
        }
    }

    /// Whether the spec claims `p`.
    pub fn claims(&self, p: Property) -> bool {
        self.claims.contains(&p)
    }

    /// The implementation's built-in name.
    pub fn builtin(&self) -> &str {
        match &self.implementation {
            Implementation::Builtin(n) => n,
        }
    }
}
