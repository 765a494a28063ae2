//! Snapshots of the three renderers on one small vector run against the
//! positive control and the honest baseline. (The committed `reports/` are
//! the audit-level snapshots; these pin the renderers' layout.)
#![allow(clippy::unwrap_used)]

use doormat_audit::{audit_one, Loaded};
use doormat_formats::{Spec, Vector};
use doormat_report::{render_json, render_markdown, render_scorecard, DesignAudit};

/// The vector every renderer here is shown: a member removed from a group
/// of three, then a held message.
const VECTOR: &str = include_str!("render-removed.yaml");

fn spec(id: &str, claims: &str) -> Spec {
    let src = format!("id: {id}\ntitle: The {id} design\nsummary: A design for tests.\nimplementation: {{builtin: {id}}}\nclaims: [{claims}]\n");
    Spec::parse(&format!("specs/{id}.yaml"), id, &src).unwrap()
}

fn audits() -> Vec<DesignAudit> {
    let scenario = Vector::parse("vectors/removed.yaml", "removed", VECTOR).unwrap();
    [
        ("plaintext-relay", "delivers, recipients-only"),
        ("ratchet", "provider-blind, recipients-only, outsider-blind, delivers"),
    ]
    .iter()
    .map(|(id, claims)| {
        let loaded = Loaded { spec: spec(id, claims), design: doormat_designs::builtin(id).unwrap() };
        audit_one(&loaded, std::slice::from_ref(&scenario))
    })
    .collect()
}

#[test]
fn markdown_reports() {
    for a in audits() {
        insta::assert_snapshot!(format!("markdown_{}", a.design), render_markdown(&a));
    }
}

#[test]
fn json_reports() {
    for a in audits() {
        insta::assert_snapshot!(format!("json_{}", a.design), render_json(&a));
    }
}

#[test]
fn scorecard() {
    insta::assert_snapshot!("scorecard", render_scorecard(&audits()));
}

#[test]
fn a_contradicted_claim_is_not_ok() {
    let a = audits();
    assert!(!a[0].ok(), "plaintext-relay claims recipients-only here and must be contradicted");
    assert_eq!(a[0].broken_claims(), vec![doormat_formats::Property::RecipientsOnly]);
    assert_eq!(a[0].failed_expectations().len(), 1);
    assert!(a[1].ok());
}
