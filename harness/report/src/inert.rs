//! Making untrusted text inert, one function per output.
//!
//! An external implementation's standard error and error messages, and the
//! text of files doormat did not write (known-answer comments, algorithm
//! names), reach the reports and the terminal. Pasted raw, an ESC sequence
//! clears the reader's terminal, a stray ``` swallows the rest of a Markdown
//! report, and `</details>` or `<script>` changes the page a Markdown viewer
//! (or a browser, for the HTML pages) draws. Each output escapes such text its own way; JSON (and SARIF, which
//! is JSON) carries it as it is, since the JSON encoder escapes it.
//!
//! **Invariant:** every function here is total and idempotent in effect:
//! what it returns, shown in its output, displays the original characters
//! (control characters as `\xNN` / `\u{NNNN}`) and does nothing else.

use std::fmt::Write;

/// A control character as visible text: `\x1b`, `\u{85}`.
fn visible(c: char, out: &mut String) {
    let n = c as u32;
    if n < 0x100 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:x}}}");
    }
}

/// Whether `c` must not reach an output raw: C0 and C1 controls, DEL, and
/// the Unicode bidirectional overrides and isolates (which reorder what a
/// reader sees).
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// For a terminal: every control character but newline and tab shown as
/// `\x1b`, so no escape sequence, bell or carriage return takes effect.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_control(c) && c != '\n' && c != '\t' {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// For running Markdown text (a paragraph, a list item, a table cell) on one
/// line: control characters shown as `\x1b`, newlines as spaces, HTML
/// special characters as entities, and Markdown's punctuation
/// backslash-escaped, so the text can open no code span, link, emphasis,
/// table cell or HTML element.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if is_control(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// For many lines of untrusted text in Markdown: a fenced code block whose
/// fence is longer than any run of backticks in the text (so the text cannot
/// close it), every line indented by `indent` spaces (to sit inside a list
/// item), control characters shown as `\x1b`. Ends with a newline.
pub fn markdown_block(s: &str, indent: usize) -> String {
    let text = terminal(s).replace('\t', "    ");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{fence}text\n");
    for line in text.lines() {
        let _ = writeln!(out, "{pad}{line}");
    }
    let _ = writeln!(out, "{pad}{fence}");
    out
}

/// For HTML text and attribute values (quoted with `"` or `'`): control
/// characters shown as `\x1b` as on the terminal (newline and tab kept),
/// then `&`, `<`, `>`, `"` and `'` as character references, so the text
/// can open no element, entity or attribute.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// For XML 1.0 (JUnit): the characters XML cannot carry at all, even as
/// character references (C0 controls but tab, newline and carriage return;
/// U+FFFE, U+FFFF), shown as `\x1b`; the XML writer escapes the rest.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}') {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HOSTILE: &str =
        "ok\x1b[2J\x07 ``` </details> <script>alert(1)</script> | a | *b* [x](javascript:1) \u{202e}drow";

    #[test]
    fn terminal_shows_controls_and_nothing_else_changes() {
        let t = terminal(HOSTILE);
        assert!(!t.chars().any(|c| is_control(c) && c != '\n'), "{t:?}");
        assert!(t.contains("\\x1b[2J\\x07"), "{t}");
        assert!(t.contains("\\u{202e}drow"), "{t}");
        assert_eq!(terminal("line one\nline\ttwo"), "line one\nline\ttwo");
    }

    #[test]
    fn markdown_text_opens_nothing() {
        let m = markdown(HOSTILE);
        // What is left once every backslash escape is taken out.
        let mut bare = String::new();
        let mut chars = m.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                chars.next();
            } else {
                bare.push(c);
            }
        }
        for bad in ['<', '>', '`', '|', '*', '[', ']', '\x1b', '\x07', '\u{202e}'] {
            assert!(!bare.contains(bad), "{bad:?} survives in {m}");
        }
        assert!(m.contains("&lt;/details&gt;"), "{m}");
        assert!(!markdown("a\nb").contains('\n'));
    }

    #[test]
    fn a_block_cannot_be_closed_from_inside() {
        let text = "before\n``````\n</details>\n\x1b[31mred";
        let b = markdown_block(text, 2);
        let fence = b.lines().next().unwrap().trim_start().trim_end_matches("text");
        assert_eq!(fence.len(), 7, "{b}");
        let inner: Vec<&str> = b.lines().skip(1).take_while(|l| l.trim_start() != fence).collect();
        assert_eq!(inner.len(), 4, "the block closes only at its own fence:\n{b}");
        assert!(b.lines().all(|l| l.starts_with("  ")));
        assert!(!b.contains('\x1b'));
    }

    #[test]
    fn html_opens_nothing() {
        let h = html(HOSTILE);
        for bad in ['<', '>', '"', '\'', '\x1b', '\x07', '\u{202e}'] {
            assert!(!h.contains(bad), "{bad:?} survives in {h}");
        }
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
        // Every `&` left starts one of the references made here.
        let refs = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
        assert!(h.match_indices('&').all(|(i, _)| refs.iter().any(|r| h[i..].starts_with(r))), "{h}");
        assert_eq!(html("a & b <i> \"q\" 'x'"), "a &amp; b &lt;i&gt; &quot;q&quot; &#39;x&#39;");
        assert_eq!(html("&amp;"), "&amp;amp;", "text that looks escaped is escaped again");
        assert_eq!(html("two\nlines\tand — ü"), "two\nlines\tand — ü");
    }

    #[test]
    fn xml_carries_no_illegal_character() {
        let x = xml("a\x1b\x00b\tc\u{ffff}");
        assert_eq!(x, "a\\x1b\\x00b\tc\\u{ffff}");
    }
}
