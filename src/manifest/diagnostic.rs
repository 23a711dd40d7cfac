//! A single problem found in a manifest, printed as `file:line: message`.

use std::fmt;

/// One validation finding. `line` is 1-based and refers to the rendered manifest text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file the problem is in, as the user knows it (template path, or node file name).
    pub file: String,
    /// 1-based line in the rendered text, when known.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what to do about it.
    pub message: String,
}

impl Diagnostic {
    /// A finding at a known line.
    pub fn at(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
