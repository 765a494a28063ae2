//! Loading errors: every one names the file, line and column, says what was
//! expected, and quotes the offending source line (at most 120 characters
//! of it, around the column).
//!
//! **Invariant:** messages have no trailing period and never panic on odd
//! positions (a line or column past the end is shown without a caret).

use std::fmt;

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line the position points at.
    pub source_line: Option<String>,
}

impl LoadError {
    /// An error at a position of `src` (1-based line and column).
    pub fn at(file: &str, src: &str, line: Option<usize>, column: Option<usize>, message: impl Into<String>) -> Self {
        let source_line = line.and_then(|l| src.lines().nth(l.saturating_sub(1))).map(str::to_owned);
        let mut message: String = message.into();
        while message.ends_with('.') {
            message.pop();
        }
        LoadError { file: file.to_owned(), line, column, message, source_line }
    }

    /// An error about a whole file (missing, unreadable).
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Self::at(file, "", None, None, message)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let (Some(line), Some(text)) = (self.line, &self.source_line) {
            let num = line.to_string();
            let pad = " ".repeat(num.len());
            let (text, column) = window(text, self.column);
            write!(f, "\n{pad} |\n{num} | {text}")?;
            if let Some(col) = column {
                let width = text.chars().count();
                if col >= 1 && col <= width + 1 {
                    let lead: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                    write!(f, "\n{pad} | {lead}^")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// The most characters of a source line a message quotes.
const QUOTED: usize = 120;

/// A source line as quoted, and the column in it: a longer line than
/// [`QUOTED`] (a one-line JSON file, a hostile file) is cut to the part
/// around the column, marked with `…` where it was cut.
fn window(text: &str, column: Option<usize>) -> (String, Option<usize>) {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= QUOTED {
        return (text.to_owned(), column);
    }
    let at = column.map_or(0, |c| c.saturating_sub(1).min(chars.len()));
    let start = at.saturating_sub(QUOTED / 2).min(chars.len() - QUOTED);
    let end = start + QUOTED;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    (out, column.map(|c| c - start + usize::from(start > 0)))
}

/// Several problems found in one pass (validation reports all it finds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        LoadErrors(vec![e])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_quoted_around_the_column() {
        let src = format!("title: {}x{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = LoadError::at("a.yaml", &src, Some(1), Some(100_008), "here: expected less");
        let shown = e.to_string();
        assert!(shown.len() < 1000, "{} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "a.yaml:1:100008: here: expected less");
        let (quoted, caret) = (lines[2], lines[3]);
        assert!(quoted.starts_with("1 | …[[[") && quoted.ends_with("]]]…"), "{quoted}");
        // The caret stands under the `x`.
        let x = quoted.chars().position(|c| c == 'x').unwrap();
        assert_eq!(caret.chars().count() - 1, x, "{quoted}\n{caret}");
        // Short lines are quoted whole.
        let e = LoadError::at("a.yaml", "seed: x\n", Some(1), Some(7), "m: expected n");
        assert_eq!(e.to_string(), "a.yaml:1:7: m: expected n\n  |\n1 | seed: x\n  |       ^");
    }
}
