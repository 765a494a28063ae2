//! The report's "Known-answer tests" section.
#![allow(clippy::unwrap_used)]

use doormat_formats::kat::KatFile;
use doormat_formats::Spec;
use doormat_report::{render_markdown, DesignAudit};

const SPEC: &str = "id: d\ntitle: T\nsummary: S\nimplementation: {builtin: ratchet}\nclaims: [delivers]\n";
const KAT: &str = r#"algorithm: HMACSHA256
testGroups:
  - tests:
      - {tcId: 1, comment: RFC 4231 case 2, flags: [Ktv], result: valid, key: "4a656665", msg: "7768617420646f2079612077616e7420666f72206e6f7468696e673f", tag: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"}
      - {tcId: 2, comment: wrong answer, flags: [Made], result: valid, key: "00", msg: "", tag: "00"}
"#;

#[test]
fn the_section_comes_before_the_limits_and_a_failure_breaks_the_audit() {
    let spec = Spec::parse("specs/d.yaml", "d", SPEC).unwrap();
    let mut audit = DesignAudit::new(&spec, Vec::new());
    let md = render_markdown(&audit);
    assert!(!md.contains("Known-answer tests"));
    let files = [KatFile::parse("kat/hmac.yaml", KAT).unwrap()];
    audit.kat = Some(doormat_oracles::kat::run(&doormat_designs::RustCrypto, &files, &spec.kat_accepts));
    assert!(!audit.ok());
    assert_eq!(audit.claims_status(), "no — expectations or known-answer tests failed");
    let md = render_markdown(&audit);
    // The opening lines judge the claims; the failed case is said right after them.
    let also = md.find("**Also:** 1 known-answer case(s) of its primitives failed").unwrap();
    assert!(also < md.find("## Properties").unwrap(), "{md}");
    let kat = md.find("## Known-answer tests").unwrap();
    assert!(kat < md.find("## What this audit cannot see").unwrap());
    assert!(md.contains("| HMAC-SHA-256 | valid | 1 | 1 | 0 | 0 |"), "{md}");
    assert!(
        md.contains("- HMAC-SHA-256 tcId 2 (kat/hmac.yaml; expected valid; flags: Made): wrong answer — rejected"),
        "{md}"
    );
}
