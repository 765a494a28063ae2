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

/// The second occurrence of `key` in the mapping whose first key (block
/// style) or opening `{` (flow style) is at `line`, `column` (1-based), as the
/// YAML parser reports a duplicate field.
pub fn second_key_in(src: &str, line: usize, column: usize, key: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = src.lines().collect();
    let first = *lines.get(line.checked_sub(1)?)?;
    let col = column.checked_sub(1)?;
    if first.chars().nth(col) == Some('{') {
        return second_flow_key(&lines, line - 1, col, key);
    }
    if key_of(first).map(|(_, c)| c) != Some(col) {
        return None;
    }
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate().skip(line - 1) {
        if i > line - 1 && !is_blank(l) && indent(l) < col {
            break;
        }
        if key_of(l) == Some((key, col)) {
            seen += 1;
            if seen == 2 {
                return Some((i + 1, col + 1));
            }
        }
    }
    None
}

/// The second `key` of the flow mapping opened by the `{` at (`line`, `col`),
/// both 0-based; keys of nested mappings are skipped.
fn second_flow_key(lines: &[&str], line: usize, col: usize, key: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut expecting = false;
    let mut current: Option<(usize, usize, String)> = None;
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate().skip(line) {
        let chars: Vec<char> = l.chars().collect();
        let start = if i == line { col } else { 0 };
        for (j, &c) in chars.iter().enumerate().skip(start) {
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
                if let Some(cur) = current.as_mut() {
                    cur.2.push(c);
                }
                continue;
            }
            match c {
                '{' | '[' => {
                    depth += 1;
                    expecting = depth == 1;
                }
                '}' | ']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return None;
                    }
                }
                ',' if depth == 1 => {
                    expecting = true;
                    current = None;
                }
                ':' if depth == 1
                    && current.is_some()
                    && chars.get(j + 1).is_none_or(|n| matches!(n, ' ' | ',' | '}')) =>
                {
                    if let Some((kl, kc, k)) = current.take() {
                        if k.trim().trim_matches(|q| q == '"' || q == '\'') == key {
                            seen += 1;
                            if seen == 2 {
                                return Some((kl + 1, kc + 1));
                            }
                        }
                    }
                }
                '#' if j == 0 || chars[j - 1] == ' ' => break,
                _ if depth == 1 && expecting && c != ' ' && c != '\t' => {
                    expecting = false;
                    if c == '"' || c == '\'' {
                        quote = Some(c);
                    }
                    current = Some((i, j, c.to_string()));
                }
                _ if depth == 1 => {
                    if c == '"' || c == '\'' {
                        quote = Some(c);
                    }
                    if let Some(cur) = current.as_mut() {
                        cur.2.push(c);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Locates a sequence item by a path of `(key, index)` pairs: `[("steps", 3)]`
/// is the fourth item of the top-level `steps:` list; `[("steps", 3),
/// ("steps", 0)]` the first item of the `steps:` list nested in it.
pub fn item(src: &str, path: &[(&str, usize)]) -> Option<Span> {
    let (&(key, index), parents) = path.split_last()?;
    items(src, parents, key)?.get(index).copied()
}

/// Every item of the `key:` sequence inside the item at `parents` (a path
/// as for [`item`]; empty: the top level), in one pass over the source, so
/// that locating each of a long list's items costs no more than the list.
pub fn items(src: &str, parents: &[(&str, usize)], key: &str) -> Option<Vec<Span>> {
    let lines: Vec<&str> = src.lines().collect();
    // Search window: [from, to) lines (0-based), with the parent's indentation.
    let (mut from, mut to) = (0usize, lines.len());
    let mut parent_indent: Option<usize> = None;
    for &(k, index) in parents {
        let span = *sequence(&lines, from, to, parent_indent, k)?.get(index)?;
        from = span.line - 1;
        to = span.end;
        parent_indent = Some(span.column - 1);
    }
    sequence(&lines, from, to, parent_indent, key)
}

/// The items of the `key:` sequence found in lines `[from, to)` deeper than
/// `parent_indent`.
fn sequence(lines: &[&str], from: usize, to: usize, parent_indent: Option<usize>, key: &str) -> Option<Vec<Span>> {
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
    let col = item_indent.unwrap_or(0);
    let spans = starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(block_end);
            // Trim trailing blank lines from the item.
            let mut last = end.saturating_sub(1).max(start);
            while last > start && is_blank(lines[last]) {
                last -= 1;
            }
            Span { line: start + 1, column: col + 1, end: last + 1 }
        })
        .collect();
    Some(spans)
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

    /// A whole list at once gives each item where [`item`] finds it.
    #[test]
    fn a_list_at_once_is_its_items_one_by_one() {
        let top = items(SRC, &[], "steps").expect("the steps");
        assert_eq!(top.len(), 2);
        let nested = items(SRC, &[("steps", 1)], "steps").expect("the repeated steps");
        assert_eq!(nested.len(), 2);
        for (i, span) in top.iter().enumerate() {
            assert_eq!(item(SRC, &[("steps", i)]), Some(*span));
        }
        for (i, span) in nested.iter().enumerate() {
            assert_eq!(item(SRC, &[("steps", 1), ("steps", i)]), Some(*span));
        }
        assert_eq!(items(SRC, &[], "nothing"), None);
    }

    #[test]
    fn finds_words_and_duplicate_keys() {
        let span = item(SRC, &[("steps", 1), ("steps", 0)]).expect("span");
        assert_eq!(word(SRC, span, "bob"), Some((8, 45)));
        assert_eq!(word(SRC, span, "bo"), None);
        assert_eq!(second_key("a: 1\nb: 2\na: 3\n", "a"), Some((3, 1)));
        let dup = "s:\n  - x: 1\n    k: 1\n  - x: 2\n    k: 2\n    k: 3\n";
        assert_eq!(second_key_in(dup, 4, 5, "k"), Some((6, 5)));
        assert_eq!(second_key_in(dup, 2, 5, "k"), None);
        let flow = "- {a: {k: 1}, \"k\": 2,\n   b: '{', k: 3}\n";
        assert_eq!(second_key_in(flow, 1, 3, "k"), Some((2, 12)));
        assert_eq!(second_key_in(flow, 1, 1, "k"), None);
        assert_eq!(top_key(SRC, "expect"), Some((12, 1)));
    }
}
