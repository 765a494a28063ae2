//! JUnit XML (through `quick-junit`): one test suite per design, one test
//! case per vector and property, so CI systems show doormat's verdicts as
//! tests. Deterministic: no timestamps, no durations.

use crate::audit::DesignAudit;
use crate::gate::{Gate, GateKind};
use doormat_formats::Property;
use doormat_oracles::Verdict;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The JUnit report of `audits`, judged by `gate`.
pub fn render_junit(audits: &[DesignAudit], gate: &Gate) -> String {
    let mut report = Report::new("doormat");
    for a in audits {
        let mut suite = TestSuite::new(a.design.as_str());
        for v in &a.vectors {
            for p in Property::ALL {
                let Some(j) = v.judgement(p) else { continue };
                let item =
                    gate.items.iter().find(|i| i.design == a.design && i.vector == v.vector && i.property == Some(p));
                let claimed = a.claims.contains(&p);
                let status = match (j.verdict, item.map(|i| &i.kind)) {
                    (Verdict::Pass, _) if j.client_level => {
                        skipped(&format!("passed at client level only: {}", j.note))
                    }
                    (Verdict::Pass, _) => TestCaseStatus::success(),
                    (Verdict::Error, _) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                        s.set_message(j.note.as_str());
                        s
                    }
                    (Verdict::NotTested, _) => skipped(&format!("not tested: {}", j.note)),
                    (Verdict::Fail, Some(GateKind::Unexpected)) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let findings: Vec<_> =
                            a.findings.iter().filter(|f| f.vector == v.vector && f.property == p).collect();
                        s.set_message(findings.first().map_or("failed", |f| f.sentence.as_str()));
                        let text: Vec<String> = findings
                            .iter()
                            .flat_map(|f| {
                                std::iter::once(f.sentence.clone())
                                    .chain(f.evidence.iter().map(|e| format!("  - {}", e.text)))
                            })
                            .collect();
                        s.set_description(text.join("\n"));
                        s
                    }
                    (Verdict::Fail, Some(GateKind::Expected(reason))) => {
                        skipped(&format!("expected deviation: {reason}"))
                    }
                    (Verdict::Fail, _) if claimed => skipped("fails within a limit the spec states"),
                    (Verdict::Fail, _) => skipped("fails; not claimed"),
                };
                suite.add_test_case(TestCase::new(format!("{} / {}", v.vector, p), status));
            }
            for e in v
                .expectations
                .iter()
                .filter(|e| !e.held && a.claims.contains(&e.property) && !a.limited(&v.vector, &v.tags, e.property))
            {
                let item = gate
                    .items
                    .iter()
                    .find(|i| i.design == a.design && i.vector == v.vector && i.what.contains(&e.expected));
                let status = match item.map(|i| &i.kind) {
                    Some(GateKind::Expected(reason)) => skipped(&format!("expected deviation: {reason}")),
                    _ => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("{} — {}", e.expected, e.observed.as_deref().unwrap_or("")));
                        s
                    }
                };
                suite.add_test_case(TestCase::new(format!("{} / expect: {}", v.vector, e.expected), status));
            }
        }
        for i in gate.items.iter().filter(|i| i.design == a.design) {
            if let GateKind::Stale(reason) = &i.kind {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(i.what.as_str());
                s.set_description(format!("reason given: {reason}"));
                suite.add_test_case(TestCase::new(format!("deviation {}", i.vector), s));
            }
        }
        report.add_test_suite(suite);
    }
    // Text an implementation wrote may hold characters XML 1.0 cannot
    // carry at all; they are shown as `\x1b` (the rest the writer escapes).
    let mut s = crate::inert::xml(&report.to_string().unwrap_or_else(|e| format!("<!-- {e} -->")));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn skipped(message: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    s.set_message(message);
    s
}
