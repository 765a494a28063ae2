//! SARIF 2.1.0 (through `serde-sarif`), so code-scanning tools show
//! doormat's findings on the vector files: one rule per property, one
//! result per finding, located at the vector step of its first evidence.

use crate::audit::DesignAudit;
use crate::gate::{Gate, GateKind};
use doormat_formats::Property;
use doormat_oracles::Finding;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag, Region,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::BTreeMap;

fn result(a: &DesignAudit, f: &Finding, level: ResultLevel, note: &str) -> SarifResult {
    let v = a.vectors.iter().find(|v| v.vector == f.vector);
    let file = v.map_or_else(|| f.vector.clone(), |v| v.file.clone());
    let line = f
        .evidence
        .first()
        .and_then(|e| v.and_then(|v| v.step_lines.get(e.step.wrapping_sub(1)).copied().flatten()))
        .unwrap_or(1);
    let mut text = format!("{}: {}{note}", a.design, f.sentence);
    for e in &f.evidence {
        text.push_str("\n- ");
        text.push_str(&e.text);
    }
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(file.replace('\\', "/")).build())
                .region(Region::builder().start_line(line as i64).build())
                .build(),
        )
        .build();
    let mut props = BTreeMap::new();
    props.insert("design".to_owned(), serde_json::Value::String(a.design.clone()));
    props.insert("vector".to_owned(), serde_json::Value::String(f.vector.clone()));
    SarifResult::builder()
        .rule_id(f.property.id())
        .level(level)
        .message(Message::builder().text(text).build())
        .locations(vec![location])
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build()
}

/// The SARIF log of `audits`, judged by `gate`.
pub fn render_sarif(audits: &[DesignAudit], gate: &Gate) -> String {
    let rules: Vec<ReportingDescriptor> = Property::ALL
        .iter()
        .map(|p| {
            ReportingDescriptor::builder()
                .id(p.id())
                .name(p.id())
                .short_description(MultiformatMessageString::builder().text(p.plain()).build())
                .build()
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("doormat")
        .version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/doormat/doormat")
        .rules(rules)
        .build();
    let mut results = Vec::new();
    for a in audits {
        for f in &a.findings {
            let claimed = a.claims.contains(&f.property);
            let item = gate
                .items
                .iter()
                .find(|i| i.design == a.design && i.vector == f.vector && i.property == Some(f.property));
            let (level, note) = match item.map(|i| &i.kind) {
                Some(GateKind::Unexpected) => (ResultLevel::Error, String::new()),
                Some(GateKind::Expected(r)) => (ResultLevel::Warning, format!(" (expected deviation: {r})")),
                _ if claimed => (ResultLevel::Warning, " (within a limit the spec states)".to_owned()),
                _ => (ResultLevel::Note, " (not claimed)".to_owned()),
            };
            results.push(result(a, f, level, &note));
        }
        for f in &a.observations {
            results.push(result(a, f, ResultLevel::Note, ""));
        }
    }
    let run = Run::builder().tool(Tool::builder().driver(driver).build()).results(results).build();
    let log = Sarif::builder()
        .version(serde_sarif::sarif::Version::V2_1_0.to_string())
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .runs(vec![run])
        .build();
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
