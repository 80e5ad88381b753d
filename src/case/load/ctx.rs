//! What every part of building a case needs: where the case is (its file
//! and positions, for errors) and a word for an empty list.

use super::super::error::LoadError;
use super::super::spans::LazySpans;
use crate::case::ValType;
use std::path::Path;

/// A case being built: its file and where each YAML path is in it.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) spans: &'a LazySpans<'a>,
    /// The steps' lines, where a line scan finds them (else from `spans`).
    pub(super) step_lines: Option<Vec<usize>>,
}

impl Ctx<'_> {
    pub(super) fn err(&self, path: &str, message: impl Into<String>) -> LoadError {
        LoadError::new(self.file, self.spans.get().find(path), message)
    }

    /// The line of step `index` (its path is `path`).
    pub(super) fn step_line(&self, index: usize, path: &str) -> usize {
        match self.step_lines.as_ref().and_then(|l| l.get(index)) {
            Some(line) => *line,
            None => self.spans.get().find(path).line,
        }
    }
}

/// A list for an error message, or "none".
pub(super) fn none_if_empty(list: &[String]) -> String {
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

/// Types for an error message: `i32, i64`, or "none".
pub(super) fn type_list(types: &[ValType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}
