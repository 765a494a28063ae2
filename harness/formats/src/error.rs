//! Loading errors: every one names the file, line and column, says what was
//! expected, and quotes the offending source line.
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
            write!(f, "\n{pad} |\n{num} | {text}")?;
            if let Some(col) = self.column {
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
