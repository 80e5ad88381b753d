//! The error every loader gives: a problem with an input file, with where it is.

use super::spans::Pos;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with an input file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl LoadError {
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        LoadError { file: file.to_owned(), line: pos.line, col: pos.col, message: message.into() }
    }

    pub fn whole(file: &Path, message: impl Into<String>) -> Self {
        LoadError { file: file.to_owned(), line: 0, col: 0, message: message.into() }
    }

    /// From a serde_yaml error, whose position (if any) is kept.
    pub fn yaml(file: &Path, err: &serde_yaml::Error) -> Self {
        let text = err.to_string();
        match err.location() {
            Some(loc) => {
                // serde_yaml says " at line L column C"; the position goes in front instead.
                let message = strip_position(&text);
                LoadError { file: file.to_owned(), line: loc.line(), col: loc.column(), message }
            }
            None => LoadError::whole(file, text),
        }
    }
}

/// Removes serde_yaml's " at line L column C" from a message.
fn strip_position(text: &str) -> String {
    let Some(i) = text.find(" at line ") else { return text.to_string() };
    let rest = &text[i + " at line ".len()..];
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = digits(rest);
    let after = &rest[n..];
    match after.strip_prefix(" column ") {
        Some(col) => format!("{}{}", &text[..i], &col[digits(col)..]),
        None => text.to_string(),
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
        }
    }
}

impl std::error::Error for LoadError {}

