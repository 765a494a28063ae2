//! Error messages of the input formats, as data: each case is a small input
//! and the exact message a user sees, kept as an insta snapshot.
//!
//! Every message names `file:line:column`, says what was expected, quotes the
//! offending source line with a caret, and has no trailing period.

#![allow(clippy::unwrap_used)]

use doormat_formats::{Spec, Vector};
use std::path::{Path, PathBuf};

/// Checks the shape every located message must have.
fn check_shape(file: &str, rendered: &str) {
    for block in rendered.split("\nerror: ") {
        let head = block.lines().next().unwrap();
        let head = head.strip_prefix("error: ").unwrap_or(head);
        assert!(!head.ends_with('.'), "trailing period in {head:?}");
        assert!(head.contains("expected"), "no expectation in {head:?}");
        let pos = head.strip_prefix(file).unwrap_or_else(|| panic!("{head:?} does not name {file}"));
        let empty = pos.starts_with(": the file is empty");
        if !empty {
            let mut parts = pos.trim_start_matches(':').splitn(3, ':');
            let line: usize = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("no line in {head:?}"));
            let column: usize = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("no column in {head:?}"));
            assert!(line >= 1 && column >= 1, "bad position in {head:?}");
            let caret = block.lines().nth(3).unwrap_or_else(|| panic!("no caret in {block:?}"));
            assert!(caret.trim_end().ends_with('^'), "no caret in {block:?}");
        }
    }
}

/// Parses `src` as `vectors/{name}.yaml`, expects errors, snapshots them.
fn check_vector(name: &str, src: &str) {
    let file = format!("vectors/{name}.yaml");
    let errors = match Vector::parse(&file, name, src) {
        Ok(s) => panic!("{name}: expected an error, got {s:?}"),
        Err(e) => e,
    };
    let rendered = errors.to_string();
    check_shape(&file, &rendered);
    insta::assert_snapshot!(name, rendered);
}

/// Parses `src` as `specs/{stem}.yaml` with id `stem`, expects errors, snapshots them.
fn check_spec(name: &str, stem: &str, src: &str) {
    let file = format!("specs/{stem}.yaml");
    let errors = match Spec::parse(&file, stem, src) {
        Ok(s) => panic!("{name}: expected an error, got {s:?}"),
        Err(e) => e,
    };
    let rendered = errors.to_string();
    check_shape(&file, &rendered);
    insta::assert_snapshot!(name, rendered);
}

/// The number of errors reported for a vector.
fn error_count(name: &str, src: &str) -> usize {
    Vector::parse(&format!("vectors/{name}.yaml"), name, src).map_or_else(|e| e.0.len(), |_| 0)
}

/// The head of most vectors below: users `alice` and `bob`, both registered.
const PAIR: &str = "title: t
seed: 1
users: [alice, bob]
steps:
  - register: {user: alice}
  - register: {user: bob}
";

/// The head of the group vectors below: users `alice`, `bob` and `carol`,
/// all registered, and group `crew` of `alice` and `bob`.
const CREW: &str = "title: t
seed: 1
users: [alice, bob, carol]
steps:
  - register: {user: alice}
  - register: {user: bob}
  - register: {user: carol}
  - group: {id: crew, members: [alice, bob]}
";

/// A vector of [`PAIR`] followed by the `steps` lines given (each a
/// `  - step` line, ending in a newline).
fn pair(steps: &str) -> String {
    format!("{PAIR}{steps}")
}

/// A vector of [`CREW`] followed by the `steps` lines given.
fn crew(steps: &str) -> String {
    format!("{CREW}{steps}")
}

// ---------------------------------------------------------------- parsing

#[test]
fn unknown_top_level_field() {
    check_vector(
        "unknown-top-level-field",
        "title: t
seed: 1
users: [alice, bob]
colour: red
steps:
  - register: {user: alice}
",
    );
}

#[test]
fn unknown_field_in_step() {
    check_vector("unknown-field-in-step", &pair("  - send: {id: m1, from: alice, to: bob, bdy: hello}\n"));
}

#[test]
fn unknown_field_in_block_step() {
    check_vector(
        "unknown-field-in-block-step",
        &pair(
            "  - send:
      id: m1
      from: alice
      recipient: bob
",
        ),
    );
}

#[test]
fn wrong_type() {
    check_vector(
        "wrong-type",
        "title: t
seed: \"one\"
users: [alice]
steps:
  - register: {user: alice}
",
    );
}

#[test]
fn bad_indentation() {
    check_vector(
        "bad-indentation",
        "title: t
seed: 1
users: [alice, bob]
steps:
  - register: {user: alice}
   - register: {user: bob}
",
    );
}

#[test]
fn duplicate_top_level_key() {
    check_vector(
        "duplicate-top-level-key",
        "title: t
seed: 1
users: [alice, bob]
seed: 2
steps:
  - register: {user: alice}
",
    );
}

#[test]
fn duplicate_key_in_step() {
    // An earlier step has `from:` at the same column: the error must point
    // at the second `from:` of the fourth step, not at the first step's.
    check_vector(
        "duplicate-key-in-step",
        &pair(
            "  - send:
      id: m1
      from: alice
      to: bob
  - send:
      id: m2
      from: bob
      to: alice
      from: alice
",
        ),
    );
}

#[test]
fn duplicate_key_in_flow_step() {
    check_vector("duplicate-key-in-flow-step", &pair("  - send: {id: m1, from: alice, to: bob, to: alice}\n"));
}

#[test]
fn bad_indentation_of_a_key() {
    check_vector(
        "bad-indentation-of-a-key",
        "title: t
seed: 1
users: [alice]
steps:
  - register:
      user: alice
     device: laptop
",
    );
}

#[test]
fn tab_indentation() {
    check_vector("tab-indentation", "title: t\nseed: 1\nusers: [alice]\nsteps:\n\t- register: {user: alice}\n");
}

#[test]
fn unclosed_flow_mapping() {
    check_vector(
        "unclosed-flow-mapping",
        "title: t
seed: 1
users: [alice, bob]
steps:
  - register: {user: alice}
  - register: {user: bob
",
    );
}

#[test]
fn missing_field_in_step() {
    check_vector("missing-field-in-step", &pair("  - send: {id: m1, from: alice}\n"));
}

#[test]
fn step_without_fields() {
    check_vector(
        "step-without-fields",
        "title: t
seed: 1
users: [alice]
steps:
  - register
",
    );
}

#[test]
fn unknown_step_kind() {
    check_vector(
        "unknown-step-kind",
        "title: t
seed: 1
users: [alice, bob]
steps:
  - register: {user: alice}
  - shout: {user: alice}
",
    );
}

#[test]
fn empty_file() {
    check_vector("empty-file", "");
    check_vector("empty-file-comments", "# nothing here yet\n\n");
}

// ---------------------------------------------------------------- references

#[test]
fn unknown_user() {
    check_vector("unknown-user", &pair("  - send: {id: m1, from: zed, to: bob}\n"));
}

#[test]
fn unknown_device() {
    check_vector("unknown-device", &pair("  - send: {id: m1, from: alice/tablet, to: bob}\n"));
}

#[test]
fn unknown_group() {
    check_vector("unknown-group", &crew("  - add: {group: crow, user: carol}\n"));
}

#[test]
fn message_id_used_twice() {
    check_vector(
        "message-id-used-twice",
        &pair(
            "  - send: {id: m1, from: alice, to: bob}
  - send: {id: m1, from: bob, to: alice}
",
        ),
    );
}

#[test]
fn deliver_unknown_message() {
    check_vector(
        "deliver-unknown-message",
        &pair(
            "  - send: {id: m1, from: alice, to: bob, hold: true}
  - deliver: {messages: [m1, m2]}
  - send: {id: m2, from: alice, to: bob}
",
        ),
    );
}

/// `deliver` names a message sent without `hold: true`: it was delivered
/// when it was sent, so there is nothing held to deliver.
#[test]
fn deliver_never_held() {
    check_vector(
        "deliver-never-held",
        &pair(
            "  - send: {id: m1, from: alice, to: bob, hold: true}
  - send: {id: m2, from: alice, to: bob}
  - deliver: {messages: [m1, m2]}
",
        ),
    );
}

/// Nesting deeper than the limit is refused before the YAML parser sees it
/// (whose time grows with the square of the depth), at the bracket that
/// goes too deep; the long line is quoted around it.
#[test]
fn deep_flow_nesting() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    check_vector("deep-flow-nesting", &format!("title: t\nseed: 1\nusers: [alice]\nsteps: {deep}\n"));
}

/// The same for block nesting (compact `- - -` lists).
#[test]
fn deep_block_nesting() {
    let deep = "- ".repeat(1000);
    check_vector("deep-block-nesting", &format!("title: t\nseed: 1\nusers: [alice]\nsteps:\n  {deep}x\n"));
}

#[test]
fn expectation_unknown_message_and_user() {
    check_vector(
        "expectation-unknown-message-and-user",
        &pair(
            "  - send: {id: m1, from: alice, to: bob}
expect:
  - {message: m1, read_by: [bob]}
  - {message: m9, read_by: [bob]}
  - message: m1
    not_read_by: [zed]
",
        ),
    );
}

#[test]
fn link_before_register() {
    check_vector(
        "link-before-register",
        "title: t
seed: 1
users: [alice, bob]
steps:
  - link: {user: alice, device: laptop}
  - register: {user: alice}
",
    );
}

#[test]
fn register_twice() {
    check_vector("register-twice", &pair("  - register: {user: alice, device: laptop}\n"));
}

#[test]
fn add_existing_member() {
    check_vector(
        "add-existing-member",
        &pair(
            "  - group: {id: crew, members: [alice, bob]}
  - add: {group: crew, user: bob}
",
        ),
    );
}

#[test]
fn send_to_oneself() {
    check_vector("send-to-oneself", &pair("  - send: {id: m1, from: alice, to: alice}\n"));
}

#[test]
fn send_to_group_not_member() {
    check_vector("send-to-group-not-member", &crew("  - send: {id: m1, from: carol, to: crew}\n"));
}

#[test]
fn remove_non_member() {
    check_vector("remove-non-member", &crew("  - remove: {group: crew, user: carol}\n"));
}

#[test]
fn error_inside_repeat() {
    let src = &pair(
        "  - repeat:
      times: 3
      steps:
        - send: {id: \"a{i}\", from: alice, to: bob}
        - send: {id: \"b{i}\", from: bob, to: zed}
  - send: {id: done, from: alice, to: bob}
",
    );
    assert_eq!(error_count("error-inside-repeat", src), 1, "a repeated error is reported once");
    check_vector("error-inside-repeat", src);
}

// ---------------------------------------------------------------- accepted

#[test]
fn flow_style_vector_is_valid() {
    let src = r#"{
  "title": "JSON-style vector",
  "seed": 7,
  "tags": ["one-to-one"],
  "users": ["alice", "bob"],
  "steps": [
    {"register": {"user": "alice"}},
    {"register": {"user": "bob", "device": "laptop"}},
    {"link": {"user": "bob", "device": "phone"}},
    {"send": {"id": "m1", "from": "alice", "to": "bob", "hold": true}},
    {"deliver": {"messages": ["m1"], "to": "bob/laptop"}},
    {"repeat": {"times": 2, "steps": [{"send": {"id": "r{i}", "from": "bob/phone", "to": "alice"}}]}}
  ],
  "expect": [
    {"message": "m1", "read_by": ["bob/laptop"], "outcome": "delivered"},
    {"message": "r2", "read_by": ["alice"]}
  ]
}"#;
    let s = Vector::parse("vectors/json-style.yaml", "json-style", src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.steps.len(), 7);
    assert_eq!(s.expect.len(), 2);
}

// ---------------------------------------------------------------- specs

const SPEC_HEAD: &str = "title: A design
summary: What it is
implementation:
  builtin: ratchet
";

#[test]
fn spec_unknown_property() {
    check_spec(
        "spec-unknown-property",
        "demo",
        &format!(
            "id: demo
{SPEC_HEAD}claims:
  - provider-blind
  - unbreakable
"
        ),
    );
}

#[test]
fn spec_id_not_stem() {
    check_spec(
        "spec-id-not-stem",
        "demo",
        &format!(
            "id: other
{SPEC_HEAD}claims:
  - provider-blind
"
        ),
    );
}

#[test]
fn spec_missing_claims() {
    check_spec("spec-missing-claims", "demo", &format!("id: demo\n{SPEC_HEAD}"));
}

// ---------------------------------------------------------------- the repository's own inputs

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn repo_files(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(sub);
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no files under {}", dir.display());
    files
}

#[test]
fn every_vector_parses() {
    for path in repo_files("vectors") {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let src = std::fs::read_to_string(&path).unwrap();
        if path.parent().and_then(Path::file_name).is_some_and(|n| n == "kat") {
            // Known-answer vectors for primitives, not scenarios.
            if let Err(e) = doormat_formats::KatFile::parse(&path.display().to_string(), &src) {
                panic!("{e}");
            }
            continue;
        }
        if let Err(e) = Vector::parse(&path.display().to_string(), stem, &src) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_spec_parses() {
    for path in repo_files("specs") {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let src = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = Spec::parse(&path.display().to_string(), stem, &src) {
            panic!("{e}");
        }
    }
}
