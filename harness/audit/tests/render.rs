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

/// A design that claims only delivery is said to claim only delivery: no
/// output calls it a clean bill of health, and what it lacks is said.
#[test]
fn an_unclaimed_property_is_never_a_held_claim() {
    let scenario = Vector::parse("vectors/removed.yaml", "removed", VECTOR).unwrap();
    let loaded = Loaded {
        spec: spec("plaintext-relay", "delivers"),
        design: doormat_designs::builtin("plaintext-relay").unwrap(),
    };
    let a = audit_one(&loaded, std::slice::from_ref(&scenario));
    assert!(a.ok());
    assert_eq!(a.in_short.promises, "only delivers; it claims none of the other 7 properties.");
    assert!(
        a.in_short.found.contains("It does not claim, and does not have: provider-blind: no — 1 of 1 vector"),
        "{}",
        a.in_short.found
    );
    assert!(a.in_short.remember.starts_with("The provider can see message text"), "{}", a.in_short.remember);
    assert_eq!(a.claims_status(), "claims only delivers: held");
    for text in [render_markdown(&a), render_scorecard(std::slice::from_ref(&a)), a.status_line()] {
        assert!(
            !text.contains("every claim held")
                && !text.contains("all claims held")
                && !text.contains("Claims held: all"),
            "{text}"
        );
    }
}

/// Every output says each answer in the same words: the report, the
/// scorecard, the JSON; and a report opens with its three lines.
#[test]
fn one_vocabulary_and_the_verdict_first() {
    let audits = audits();
    let scorecard = render_scorecard(&audits);
    for a in &audits {
        let md = render_markdown(a);
        let json = render_json(a);
        let lines: Vec<&str> = md.lines().collect();
        assert!(
            lines[2].starts_with("**Promises:** ")
                && lines[3].starts_with("**Found:** ")
                && lines[4].starts_with("**Remember:** "),
            "{md}"
        );
        for p in &a.properties {
            assert!(!p.answer.is_empty());
            assert!(md.contains(&p.cell()), "{}: {} not in the report", a.design, p.cell());
            assert!(scorecard.contains(&p.cell()), "{}: {} not in the scorecard", a.design, p.cell());
            assert!(
                json.contains(&format!("\"answer\": \"{}\"", p.answer)),
                "{}: {} not in the JSON",
                a.design,
                p.answer
            );
        }
        assert_eq!(md.matches(doormat_report::LEGEND).count(), 1, "the legend once");
    }
    let contradicted = audits[0].property(doormat_formats::Property::RecipientsOnly).unwrap();
    assert!(contradicted.answer.starts_with("no — 1 of 1 vector"), "{}", contradicted.answer);
    assert!(scorecard.contains(&format!("**{}**", contradicted.cell())), "a contradicted claim stands out");
    assert!(audits[0].status_line().contains(&format!("recipients-only [{}]", contradicted.answer)));
}
