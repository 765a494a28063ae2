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
/// rejects (unknown fields, wrong types, duplicate keys).
pub fn parse<T: DeserializeOwned>(file: &str, src: &str) -> Result<T, LoadError> {
    let de = serde_yaml::Deserializer::from_str(src);
    serde_yaml::with::singleton_map_recursive::deserialize(de).map_err(|e| {
        let (mut line, mut column) = match e.location() {
            Some(l) => (Some(l.line()), Some(l.column())),
            None => (None, None),
        };
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; the position is shown apart.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        if let Some(field) = duplicate_field(&message) {
            if let Some((l, c)) = locate::second_key(src, field) {
                line = Some(l);
                column = Some(c);
            }
            message = format!("duplicate key `{field}`: each key may appear once in a mapping");
        }
        if message.starts_with("EOF while parsing") || src.trim().is_empty() {
            message = "the file is empty: expected a YAML mapping".to_owned();
            line = None;
            column = None;
        }
        LoadError::at(file, src, line, column, message)
    })
}

fn duplicate_field(message: &str) -> Option<&str> {
    let rest = message.split("duplicate field `").nth(1).or_else(|| message.split("duplicate entry with key \"").nth(1))?;
    rest.split(['`', '"']).next()
}
