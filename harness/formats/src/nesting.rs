//! How deeply a YAML text nests, found in one pass before the parser sees
//! it ([`too_deep`]).
//!
//! The YAML parser takes time quadratic in the nesting depth of flow
//! collections (a 100,000-deep `[[[...]]]` took 39 s), so a file that
//! nests deeper than [`MAX_DEPTH`] is refused before it is parsed, in time
//! linear in its length. No input of doormat needs more than about ten
//! levels (an upstream Wycheproof JSON file has five).
//!
//! The scan is a small tokenizer, not a parser: it follows flow collections
//! (`[`, `{`), block indentation and the compact indicators `- ` and `? `,
//! and it skips what cannot hold structure: comments, quoted scalars (over
//! several lines too), block scalars (`|`, `>`) and plain scalars (a `[`
//! inside `a [b` is text). Its count is close to the parser's: it may count
//! a level or two more on odd layouts (a plain scalar continued on a more
//! indented line), never fewer on the constructs that make the parser slow.

/// The deepest nesting of lists and mappings (flow and block together) a
/// spec, vector, known-answer file or deviations file may have.
pub const MAX_DEPTH: usize = 64;

/// The 1-based line and column of the first place where `src` nests
/// deeper than [`MAX_DEPTH`], if any.
pub fn too_deep(src: &str) -> Option<(usize, usize)> {
    Scan::default().run(src)
}

#[derive(Default)]
struct Scan {
    /// Columns of the block nodes that enclose the current line.
    indents: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// The block depth where the open flow collections began.
    flow_base: usize,
    /// A quoted scalar that continues on the next line (its quote).
    quote: Option<char>,
    /// After a block scalar header: the indentation of the collection
    /// that holds it (`None`: the document itself); its content lines are
    /// skipped.
    block_scalar: Option<Option<usize>>,
    /// The content indentation of the block scalar being skipped, once its
    /// first non-blank line has set it.
    block_indent: Option<usize>,
}

/// Whether `c` ends a token (or the line ends).
fn space_or_end(c: Option<&char>) -> bool {
    c.is_none_or(|c| *c == ' ' || *c == '\t')
}

impl Scan {
    fn run(&mut self, src: &str) -> Option<(usize, usize)> {
        for (n, line) in src.lines().enumerate() {
            let chars: Vec<char> = line.chars().collect();
            if let Some(col) = self.line(&chars) {
                return Some((n + 1, col + 1));
            }
        }
        None
    }

    /// Scans one line; the 0-based column where the nesting went too deep.
    ///
    /// The loop over the line's characters is one state machine (inside a
    /// quoted scalar, inside flow collections, at the start of a block
    /// node, in a plain scalar) whose states share the position, the
    /// line's block depth and the collection last begun; it stays in one
    /// piece so that each state reads as the YAML rule it follows.
    fn line(&mut self, chars: &[char]) -> Option<usize> {
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = chars[indent..].iter().all(|c| c.is_whitespace());
        let marker =
            |m: &str| chars.len() >= 3 && chars[..3].iter().copied().eq(m.chars()) && space_or_end(chars.get(3));
        let document = marker("---") || marker("...");
        if self.in_block_scalar(indent, blank, document) {
            return None;
        }
        let mut i = 0;
        let mut node_start = false;
        // Block depth here: the enclosing blocks, then each collection this
        // line begins (`- `, `? `, `key: `).
        let mut depth = 0;
        if self.quote.is_none() && self.flow == 0 {
            (i, depth) = self.block_start(chars, indent, blank, document)?;
            node_start = true;
        }
        // Column of the innermost block collection begun on this line.
        let mut collection: Option<usize> = None;
        let mut scalar_col = None;
        while i < chars.len() {
            let c = chars[i];
            let prev = if i == 0 { None } else { Some(chars[i - 1]) };
            if let Some(q) = self.quote {
                match c {
                    '\\' if q == '"' => i += 1,
                    '\'' if q == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
                    _ if c == q => self.quote = None,
                    _ => {}
                }
                i += 1;
                continue;
            }
            let after_space = prev.is_none_or(|p| p == ' ' || p == '\t');
            if self.flow > 0 {
                // A quote starts a scalar only where a token starts (after a
                // JSON-like key's `:` too); inside a plain scalar it is text.
                let json_value = prev == Some(':') && i >= 2 && matches!(chars[i - 2], '"' | '\'');
                match c {
                    '[' | '{' => {
                        self.flow += 1;
                        if self.flow_base + self.flow > MAX_DEPTH {
                            return Some(i);
                        }
                    }
                    ']' | '}' => self.flow -= 1,
                    '"' | '\'' if after_space || json_value || matches!(prev, Some('[' | '{' | ',')) => {
                        self.quote = Some(c);
                    }
                    '#' if after_space => break,
                    _ => {}
                }
                i += 1;
                continue;
            }
            if c == ' ' || c == '\t' {
                i += 1;
                continue;
            }
            if c == '#' && after_space {
                break;
            }
            if node_start {
                match c {
                    '-' | '?' if space_or_end(chars.get(i + 1)) => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Some(i);
                        }
                        collection = Some(i);
                        i += 1;
                        continue;
                    }
                    ':' if space_or_end(chars.get(i + 1)) => {
                        // The value of a `? key`: its mapping is here.
                        collection = Some(i);
                        i += 1;
                        continue;
                    }
                    '[' | '{' => {
                        self.flow = 1;
                        self.flow_base = depth;
                        if depth + 1 > MAX_DEPTH {
                            return Some(i);
                        }
                        i += 1;
                        continue;
                    }
                    '"' | '\'' => {
                        self.quote = Some(c);
                        scalar_col = Some(i);
                        node_start = false;
                        i += 1;
                        continue;
                    }
                    '|' | '>' => {
                        // Its collection is the innermost one begun on this
                        // line, or else one left of the indicator: taking
                        // the rightmost possible skips no line the parser
                        // reads as structure.
                        self.block_scalar = Some(collection.or_else(|| i.checked_sub(1)));
                        self.block_indent = None;
                        break;
                    }
                    '&' | '!' => {
                        // An anchor or a tag: the node follows.
                        while i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
                            i += 1;
                        }
                        continue;
                    }
                    _ => {
                        scalar_col = Some(i);
                        node_start = false;
                    }
                }
            }
            if c == ':' && space_or_end(chars.get(i + 1)) {
                // `key: value`: the key begins a mapping at its column.
                let at = scalar_col.unwrap_or(i);
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(at);
                }
                collection = Some(at);
                node_start = true;
            }
            i += 1;
        }
        None
    }
    /// Whether this line is content of the block scalar being skipped
    /// (blank, or indented more than the collection that holds the scalar
    /// and at least as much as its first line); a line that is not ends
    /// the scalar, and so does a document marker.
    fn in_block_scalar(&mut self, indent: usize, blank: bool, document: bool) -> bool {
        let Some(parent) = self.block_scalar else { return false };
        let deeper = parent.is_none_or(|p| indent > p);
        match self.block_indent {
            _ if document => {}
            _ if blank => return true,
            None if deeper => {
                self.block_indent = Some(indent);
                return true;
            }
            Some(b) if indent >= b => return true,
            _ => {}
        }
        self.block_scalar = None;
        self.block_indent = None;
        false
    }

    /// A line that begins outside quotes and flow collections: where its
    /// scan starts and the depth of the blocks that enclose it, or `None`
    /// when it holds no node (blank, a comment, a directive).
    fn block_start(&mut self, chars: &[char], indent: usize, blank: bool, document: bool) -> Option<(usize, usize)> {
        if blank || chars[indent] == '#' {
            return None;
        }
        if document {
            self.indents.clear();
            return Some((3, 0));
        }
        if indent == 0 && chars[0] == '%' {
            return None;
        }
        while self.indents.last().is_some_and(|top| *top >= indent) {
            self.indents.pop();
        }
        let depth = self.indents.len();
        self.indents.push(indent);
        Some((indent, depth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(src: &str) -> bool {
        too_deep(src).is_none()
    }

    #[test]
    fn deep_flow_nesting_is_found_where_it_goes_too_deep() {
        let deep = format!("title: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(too_deep(&deep), Some((1, 7 + MAX_DEPTH)));
        let json = format!("{}{}", "{\"a\": ".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert_eq!(too_deep(&json), Some((1, 6 * MAX_DEPTH + 1)));
        let just = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(depth_ok(&just));
        // Over several lines.
        let lines = "[\n".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep(&lines), Some((MAX_DEPTH + 1, 1)));
    }

    #[test]
    fn deep_block_nesting_is_found() {
        let compact = format!("title: t\nsteps:\n  {}x\n", "- ".repeat(MAX_DEPTH + 5));
        assert_eq!(too_deep(&compact), Some((3, 2 + 2 * (MAX_DEPTH - 1) + 1)));
        let mut indented = String::new();
        for d in 0..=MAX_DEPTH {
            indented.push_str(&format!("{}k:\n", " ".repeat(d)));
        }
        assert_eq!(too_deep(&indented), Some((MAX_DEPTH + 1, MAX_DEPTH + 1)));
    }

    #[test]
    fn brackets_in_text_are_not_nesting() {
        let many = "title: a [b\n".repeat(1000);
        assert!(depth_ok(&many));
        let quoted = format!("a: \"{}\"\nb: '{}'\nc: \"x\n  {}\"\n", "[".repeat(500), "{".repeat(500), "[".repeat(500));
        assert!(depth_ok(&quoted));
        let comment = format!("a: 1 # {}\n# {}\n", "[".repeat(500), "{".repeat(500));
        assert!(depth_ok(&comment));
        let block =
            format!("a: |\n  {}\n  {}\nb: >-\n   {}\nc: 1\n", "[".repeat(500), "- ".repeat(500), "{".repeat(500));
        assert!(depth_ok(&block));
        let in_list = format!("- k: |\n    {}\n  j: 2\n- |\n  {}\n", "[".repeat(500), "[".repeat(500));
        assert!(depth_ok(&in_list));
        let flow_strings = format!("k: [\"{}\", '{}', it's]\n", "[".repeat(500), "]]'' [".repeat(100));
        assert!(depth_ok(&flow_strings));
    }

    #[test]
    fn a_block_scalar_ends_where_its_indentation_ends() {
        // The line after the scalar is structure again: its nesting counts.
        let src = format!("- k: |\n    text\n  j: {}\n", "[".repeat(MAX_DEPTH + 1));
        assert_eq!(too_deep(&src), Some((3, 6 + MAX_DEPTH - 2)));
    }

    #[test]
    fn long_ordinary_files_stay_shallow() {
        let mut v = String::from("title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n");
        for i in 0..5000 {
            v.push_str(&format!("  - send: {{id: m{i}, from: alice, to: bob, body: \"hi [{i}\"}}\n  - repeat:\n      times: 2\n      steps:\n        - deliver: {{messages: [m{i}]}}\n"));
        }
        assert!(depth_ok(&v));
        for doc in ["---\na: 1\n---\n- b\n...\n", "%YAML 1.2\n---\nk: v\n", "? [a]\n: b\n"] {
            assert!(depth_ok(doc), "{doc}");
        }
    }
}
