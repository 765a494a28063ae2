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
    /// Known limits of the claims: a FAIL of `property` in these vectors is
    /// reported, with the reason, as within a stated limit rather than as a
    /// contradiction.
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// Tunable parts of the judgement.
    #[serde(default)]
    pub parameters: Parameters,
    /// Flags of `acceptable` known-answer cases the design's primitives may
    /// accept or reject either way, each with the reason.
    #[serde(default)]
    pub kat_accepts: Vec<KatAccept>,
}

/// A known-answer flag the design accepts (`kat_accepts`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KatAccept {
    /// The flag, as the vectors write it (e.g. `Twist`).
    pub flag: String,
    /// Why either outcome is fine for this design.
    pub reason: String,
}

/// A stated limit of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// The property concerned.
    pub property: Property,
    /// Vector ids, or `tag:NAME` for every vector with that tag.
    pub vectors: Vec<String>,
    /// Why, in words a policy reader understands.
    pub reason: String,
}

impl Limit {
    /// Whether the limit covers a vector with this id and these tags.
    pub fn covers(&self, vector: &str, tags: &[String]) -> bool {
        self.vectors.iter().any(|v| match v.strip_prefix("tag:") {
            Some(tag) => tags.iter().any(|t| t == tag),
            None => v == vector,
        })
    }
}

fn default_round_trips() -> u32 {
    2
}

/// Parameters of the oracles for this design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    /// Round trips (a message sent by the seized device's owner, then one
    /// received) after which a seized copy must no longer read new messages.
    #[serde(default = "default_round_trips")]
    pub post_compromise_round_trips: u32,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters { post_compromise_round_trips: default_round_trips() }
    }
}

/// Where the implementation comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Implementation {
    /// A design compiled into doormat, by name.
    Builtin(String),
    /// An external program speaking the exec protocol; the command runs in
    /// the spec file's folder.
    Exec(String),
}

/// A declared third party that the design gives data to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The role's id.
    pub id: String,
    /// What the role is, in plain words.
    pub description: String,
    /// What the role is given: `provider-view` (everything the provider stores).
    #[serde(default = "default_receives")]
    pub receives: Receives,
}

fn default_receives() -> Receives {
    Receives::ProviderView
}

/// What an authority is handed when compelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Receives {
    /// Every record the provider stores.
    ProviderView,
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
        if spec.parameters.post_compromise_round_trips == 0 {
            errors.push(at_key("parameters", "`post_compromise_round_trips` must be at least 1".to_owned()));
        }
        for l in &spec.limits {
            if !spec.claims.contains(&l.property) {
                errors.push(at_key(
                    "limits",
                    format!(
                        "a limit names `{}`, which the spec does not claim: expected a claimed property",
                        l.property
                    ),
                ));
            }
            if l.vectors.is_empty() || l.reason.trim().is_empty() {
                errors.push(at_key("limits", "a limit needs `vectors` and a `reason`".to_owned()));
            }
        }
        let mut roles = std::collections::BTreeSet::new();
        for r in &spec.roles {
            if !valid_name(&r.id) || !roles.insert(r.id.as_str()) {
                errors.push(at_key(
                    "roles",
                    format!("role id `{}` is invalid or repeated: expected a unique lowercase name", r.id),
                ));
            }
        }
        let mut flags = std::collections::BTreeSet::new();
        for k in &spec.kat_accepts {
            if k.flag.trim().is_empty() || k.reason.trim().is_empty() || !flags.insert(k.flag.as_str()) {
                errors.push(at_key(
                    "kat_accepts",
                    format!("kat_accepts entry `{}` needs a unique `flag` and a `reason`", k.flag),
                ));
            }
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

    /// The reason the design accepts known-answer flag `flag`, if it does.
    pub fn kat_accepts(&self, flag: &str) -> Option<&str> {
        self.kat_accepts.iter().find(|k| k.flag == flag).map(|k| k.reason.as_str())
    }

    /// The implementation's built-in name, if it is built in.
    pub fn builtin(&self) -> Option<&str> {
        match &self.implementation {
            Implementation::Builtin(n) => Some(n),
            Implementation::Exec(_) => None,
        }
    }
}
