//! Finding source positions for errors found after parsing (cross-references),
//! by reading the block-style layout of the source text.
//!
//! The YAML parser reports positions only for its own errors; validation
//! errors (an unknown user in step 7) are located here instead. Every function
//! degrades to `None` on layouts it does not understand (flow style, odd
//! indentation), never panics, and never guesses a wrong line: when the
//! layout is not understood the caller shows the file without a position.

/// Lines of a sequence item: its first line (1-based), its column, and the
/// last line (inclusive) before the next sibling or the end of its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First line of the item, 1-based.
    pub line: usize,
    /// Column of the item's `-`, 1-based.
    pub column: usize,
    /// Last line of the item, 1-based, inclusive.
    pub end: usize,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The key a line starts with (after an optional `- `), with its column.
fn key_of(line: &str) -> Option<(&str, usize)> {
    let mut col = indent(line);
    let mut rest = &line[col..];
    while let Some(r) = rest.strip_prefix("- ") {
        let r2 = r.trim_start_matches(' ');
        col += 2 + (r.len() - r2.len());
        rest = r2;
    }
    let end = rest.find(':')?;
    let key = rest[..end].trim_matches(|c| c == '"' || c == '\'');
    let after = &rest[end + 1..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some((key, col))
}

/// The second occurrence of `key:` as a mapping key (for duplicate keys).
pub fn second_key(src: &str, key: &str) -> Option<(usize, usize)> {
    let mut seen = std::collections::BTreeMap::<usize, usize>::new();
    for (i, line) in src.lines().enumerate() {
        if let Some((k, col)) = key_of(line) {
            if k == key {
                let n = seen.entry(col).or_insert(0);
                *n += 1;
                if *n == 2 {
                    return Some((i + 1, col + 1));
                }
            }
        }
    }
    None
}

/// Locates a sequence item by a path of `(key, index)` pairs: `[("steps", 3)]`
/// is the fourth item of the top-level `steps:` list; `[("steps", 3),
/// ("steps", 0)]` the first item of the `steps:` list nested in it.
pub fn item(src: &str, path: &[(&str, usize)]) -> Option<Span> {
    let lines: Vec<&str> = src.lines().collect();
    // Search window: [from, to) lines (0-based), with the parent's indentation.
    let mut from = 0usize;
    let mut to = lines.len();
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for &(key, index) in path {
        // Find the key line inside the window, deeper than the parent.
        let key_line = (from..to).find(|&i| match key_of(lines[i]) {
            Some((k, col)) => k == key && parent_indent.is_none_or(|p| col > p),
            None => false,
        })?;
        let key_col = key_of(lines[key_line])?.1;
        // Items: lines starting with `- ` after the key, at one indentation.
        let mut item_indent = None;
        let mut starts = Vec::new();
        let mut block_end = to;
        for (i, line) in lines.iter().enumerate().take(to).skip(key_line + 1) {
            if is_blank(line) {
                continue;
            }
            let ind = indent(line);
            let is_item = line[ind..].starts_with("- ") || line[ind..] == *"-";
            if ind < key_col || (ind == key_col && !is_item) {
                block_end = i;
                break;
            }
            if is_item {
                let want = *item_indent.get_or_insert(ind);
                if ind == want {
                    starts.push(i);
                } else if ind < want {
                    block_end = i;
                    break;
                }
            }
        }
        let start = *starts.get(index)?;
        let end = starts.get(index + 1).copied().unwrap_or(block_end);
        // Trim trailing blank lines from the item.
        let mut last = end.saturating_sub(1).max(start);
        while last > start && is_blank(lines[last]) {
            last -= 1;
        }
        let col = item_indent.unwrap_or(0);
        found = Some(Span { line: start + 1, column: col + 1, end: last + 1 });
        from = start;
        to = last + 1;
        parent_indent = Some(col);
    }
    found
}

/// The first whole-word occurrence of `word` within `span`, as (line, column).
pub fn word(src: &str, span: Span, word: &str) -> Option<(usize, usize)> {
    if word.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for (i, line) in src.lines().enumerate().take(span.end).skip(span.line - 1) {
        let code = line.split(" #").next().unwrap_or(line);
        let mut start = 0;
        while let Some(pos) = code[start..].find(word) {
            let at = start + pos;
            let before = code[..at].chars().next_back();
            let after = code[at + word.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
                return Some((i + 1, code[..at].chars().count() + 1));
            }
            start = at + word.len();
        }
    }
    None
}

/// The line and column of a top-level `key:`.
pub fn top_key(src: &str, key: &str) -> Option<(usize, usize)> {
    src.lines().enumerate().find_map(|(i, line)| match key_of(line) {
        Some((k, 0)) if k == key && indent(line) == 0 => Some((i + 1, 1)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "title: t\nsteps:\n  - register: {user: alice}\n  # a comment\n  - repeat:\n      times: 2\n      steps:\n        - send: {id: m{i}, from: alice, to: bob}\n        - send:\n            id: n{i}\n            from: bob\nexpect:\n  - message: m1\n";

    #[test]
    fn finds_items_and_nested_items() {
        assert_eq!(item(SRC, &[("steps", 0)]).map(|s| s.line), Some(3));
        assert_eq!(item(SRC, &[("steps", 1)]).map(|s| (s.line, s.end)), Some((5, 11)));
        assert_eq!(item(SRC, &[("steps", 1), ("steps", 1)]).map(|s| (s.line, s.end)), Some((9, 11)));
        assert_eq!(item(SRC, &[("steps", 2)]), None);
        assert_eq!(item(SRC, &[("expect", 0)]).map(|s| s.line), Some(13));
    }

    #[test]
    fn finds_words_and_duplicate_keys() {
        let span = item(SRC, &[("steps", 1), ("steps", 0)]).expect("span");
        assert_eq!(word(SRC, span, "bob"), Some((8, 45)));
        assert_eq!(word(SRC, span, "bo"), None);
        assert_eq!(second_key("a: 1\nb: 2\na: 3\n", "a"), Some((3, 1)));
        assert_eq!(top_key(SRC, "expect"), Some((12, 1)));
    }
}
