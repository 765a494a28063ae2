//! The one function that parses YAML.
//!
//! **Invariant:** nothing else in the project names the YAML parser; replacing
//! `serde_yaml` (archived upstream) means changing this file only.
//! Externally tagged enums are written as single-key maps
//! (`- send: {...}`), which this function enables for every type.

use crate::error::LoadError;
use crate::locate;
use serde::de::DeserializeOwned;

/// Parses `src` (named `file` in messages) into `T`, rejecting what `T`
/// rejects (unknown fields, wrong types, duplicate keys), and text that
/// nests deeper than [`crate::nesting::MAX_DEPTH`] (found in linear time,
/// before the parser, whose time grows with the square of the depth).
pub fn parse<T: DeserializeOwned>(file: &str, src: &str) -> Result<T, LoadError> {
    if let Some((line, column)) = crate::nesting::too_deep(src) {
        let max = crate::nesting::MAX_DEPTH;
        return Err(LoadError::at(
            file,
            src,
            Some(line),
            Some(column),
            format!("lists and mappings nest more than {max} levels deep here: expected at most {max} levels"),
        ));
    }
    let de = serde_yaml::Deserializer::from_str(src);
    serde_yaml::with::singleton_map_recursive::deserialize(de).map_err(|e| {
        let (mut line, mut column) = match e.location() {
            Some(l) => (Some(l.line()), Some(l.column())),
            None => (None, None),
        };
        // serde_yaml appends " at line L column C"; syntax errors also name
        // where the enclosing block starts. Positions are shown apart.
        let (mut message, marks) = strip_marks(&e.to_string());
        if let Some(field) = duplicate_field(&message) {
            let field = field.to_owned();
            // The parser points at the mapping (its first key or its `{`).
            if let Some((l, c)) = line.zip(column).and_then(|(l, c)| locate::second_key_in(src, l, c, &field)) {
                line = Some(l);
                column = Some(c);
            }
            message = format!("duplicate key `{field}`: expected each key at most once in a mapping");
        } else if let Some(rest) = message.split_once(", while ").filter(|(_, c)| c.starts_with("parsing ") || c.starts_with("scanning ")) {
            // A syntax error inside a block or flow collection.
            let (problem, context) = (rest.0.to_owned(), rest.1.to_owned());
            let context = context
                .replace("parsing a block collection", "parsing the list")
                .replace("parsing a block mapping", "parsing the mapping")
                .replace("parsing a flow mapping", "parsing the `{...}` mapping")
                .replace("parsing a flow sequence", "parsing the `[...]` list");
            let past_end = line.is_some_and(|l| l > src.lines().count());
            message = match marks.get(1) {
                Some(&(l, c)) if past_end => {
                    line = Some(l);
                    column = Some(c);
                    format!("{problem} before the end of the file, while {context} that starts here")
                }
                Some(&(l, c)) => format!("{problem}, while {context} that starts at line {l} column {c}"),
                None => format!("{problem}, while {context}"),
            };
            if message.contains("expected key") || message.contains("'-' indicator") {
                message.push_str(" (check the indentation: the keys of one mapping, and the items of one list, start in the same column)");
            }
        }
        if message.starts_with("mapping values are not allowed") {
            message = "a `key: value` pair is not allowed here: expected it in the same column as the other keys of its mapping (check the indentation of this line and the one above)".to_owned();
        }
        if message.starts_with("found character that cannot start any token") && at(src, line, column) == Some('\t') {
            message = "a tab character: expected spaces for indentation, YAML does not allow tabs".to_owned();
        }
        if let Some(field) = message.split("missing field `").nth(1).and_then(|r| r.split('`').next()) {
            message = format!("{message}: expected a `{field}` key in the mapping that starts here");
        }
        message = plain_types(&message);
        if message.starts_with("EOF while parsing") || is_empty(src) {
            message = "the file is empty: expected a YAML mapping".to_owned();
            line = None;
            column = None;
        }
        LoadError::at(file, src, line, column, message)
    })
}

/// Whether `src` holds nothing but blank lines, comments and document markers.
fn is_empty(src: &str) -> bool {
    src.lines().map(str::trim).all(|t| t.is_empty() || t.starts_with('#') || t == "---" || t == "...")
}

/// The character at a 1-based position.
fn at(src: &str, line: Option<usize>, column: Option<usize>) -> Option<char> {
    src.lines().nth(line?.checked_sub(1)?)?.chars().nth(column?.checked_sub(1)?)
}

/// Removes every " at line L column C" from `message`, returning the marks.
fn strip_marks(message: &str) -> (String, Vec<(usize, usize)>) {
    let mut out = String::new();
    let mut marks = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let mark = after.split_once(" column ").and_then(|(l, tail)| {
            let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            Some(((l.parse().ok()?, tail[..digits].parse().ok()?), &tail[digits..]))
        });
        match mark {
            Some((m, tail)) => {
                marks.push(m);
                rest = tail;
            }
            None => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, marks)
}

/// Rust type names in serde messages, in the words of the format.
fn plain_types(message: &str) -> String {
    let mut m = message.to_owned();
    for t in ["u8", "u16", "u32", "u64", "usize"] {
        m = m.replace(&format!("expected {t}"), &format!("expected {t} (a whole number, 0 or more)"));
    }
    if let Some(i) = m.find("expected struct ") {
        m.truncate(i);
        m.push_str("expected a mapping of fields");
    }
    m.replace("unknown variant `", "unknown value `").replace(
        "invalid type: unit variant, expected newtype variant",
        "a name alone: expected its fields after it, as in `name: {...}`",
    )
}

fn duplicate_field(message: &str) -> Option<&str> {
    let rest =
        message.split("duplicate field `").nth(1).or_else(|| message.split("duplicate entry with key \"").nth(1))?;
    rest.split(['`', '"']).next()
}
