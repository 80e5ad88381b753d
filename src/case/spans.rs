//! Where each key and item of a YAML document stands, so that errors found
//! after deserialization (a step naming a missing export, WAT that does not
//! parse) can still point at a file line and column.
//!
//! serde_yaml reports positions only for its own errors, so the document is
//! read a second time with yaml-rust2's marked event parser.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A text's [`Spans`], read on first use: a block-style case file that
/// loads without error needs only its steps' lines, which [`block_step_lines`]
/// finds without a second YAML reading.
pub struct LazySpans<'t> {
    text: &'t str,
    spans: std::cell::OnceCell<Spans>,
}

impl<'t> LazySpans<'t> {
    pub fn new(text: &'t str) -> Self {
        LazySpans { text, spans: std::cell::OnceCell::new() }
    }

    pub fn get(&self) -> &Spans {
        self.spans.get_or_init(|| Spans::parse(self.text))
    }

    pub fn text(&self) -> &'t str {
        self.text
    }
}

/// The 1-based lines of the items of a top-level block sequence `steps:`
/// (`- invoke: ...` lines at one indentation), or `None` when the steps are
/// not written that way. Block scalars inside items are more indented than
/// the items, so no line of theirs is counted.
pub fn block_step_lines(text: &str) -> Option<Vec<usize>> {
    let mut lines = text.lines().enumerate();
    lines.find(|(_, l)| l.strip_prefix("steps:").is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#')))?;
    let mut indent = None;
    let mut out = Vec::new();
    for (i, l) in lines {
        let body = l.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let at = l.len() - body.len();
        let item = body == "-" || body.starts_with("- ");
        match indent {
            None if item => indent = Some(at),
            None => return None,
            Some(n) if at == n && item => {}
            Some(n) if at > n => continue,
            Some(_) => break,
        }
        out.push(i + 1);
    }
    Some(out)
}

/// A 1-based line and column in the case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions by dotted path: `steps.2` is the third step's first key,
/// `steps.2.args` the key `args` inside it.
#[derive(Debug, Default)]
pub struct Spans {
    keys: HashMap<String, Pos>,
    /// Where the text of a block scalar (`module: |`) starts.
    block_text: HashMap<String, Pos>,
}

impl Spans {
    pub fn parse(text: &str) -> Spans {
        let mut rx = Receiver::default();
        // Syntax errors are serde_yaml's to report; whatever was read until
        // then still gives positions.
        let _ = Parser::new_from_str(text).load(&mut rx, false);
        rx.spans
    }

    /// The position of `path`, or of its nearest recorded ancestor.
    pub fn find(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.keys.get(p) {
                return *pos;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }

    /// Maps a 1-based line/column inside a string value back into the file.
    /// Exact for block scalars (`|`, `>`), approximate for quoted strings.
    pub fn inside(&self, path: &str, line: usize, col: usize) -> Pos {
        match self.block_text.get(path) {
            Some(start) => Pos { line: start.line + line - 1, col: start.col + col - 1 },
            None => self.find(path),
        }
    }
}

enum Frame {
    Map { key: Option<String>, expecting_key: bool, first: bool },
    Seq { index: usize },
}

#[derive(Default)]
struct Receiver {
    stack: Vec<Frame>,
    /// An item mapping's own position, used if it turns out to be empty.
    pending_map: Option<(String, Pos)>,
    spans: Spans,
}

impl Receiver {
    fn path(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for frame in &self.stack {
            match frame {
                Frame::Map { key: Some(k), expecting_key: false, .. } => parts.push(k.clone()),
                Frame::Map { .. } => {}
                Frame::Seq { index } => parts.push(index.to_string()),
            }
        }
        parts.join(".")
    }

    fn pos(mark: Marker) -> Pos {
        Pos { line: mark.line(), col: mark.col() + 1 }
    }

    fn value_start(&mut self, mark: Marker) {
        let path = self.path();
        self.spans.keys.entry(path).or_insert(Self::pos(mark));
    }

    fn value_end(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { expecting_key, .. }) => *expecting_key = true,
            Some(Frame::Seq { index }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, ..) => {
                if let Some(Frame::Map { expecting_key, first, .. }) = self.stack.last_mut() {
                    if *expecting_key {
                        let is_first = std::mem::replace(first, false);
                        *expecting_key = false;
                        if is_first {
                            // A block mapping's own marker stands past its first
                            // key; the first key is where a reader looks.
                            let path = self.path();
                            self.spans.keys.entry(path).or_insert(Self::pos(mark));
                        }
                        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                            *key = Some(text);
                        }
                        let path = self.path();
                        self.spans.keys.entry(path).or_insert(Self::pos(mark));
                        return;
                    }
                }
                self.value_start(mark);
                if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded) {
                    // The marker stands on the first character of the text.
                    let path = self.path();
                    self.spans.block_text.insert(path, Self::pos(mark));
                }
                self.value_end();
            }
            Event::MappingStart(..) => {
                // Recorded at its first key (see above), except an empty one.
                if matches!(self.stack.last(), Some(Frame::Seq { .. })) || self.stack.is_empty() {
                    let path = self.path();
                    self.pending_map = Some((path, Self::pos(mark)));
                }
                self.stack.push(Frame::Map { key: None, expecting_key: true, first: true });
            }
            Event::SequenceStart(..) => {
                self.value_start(mark);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((path, pos)) = self.pending_map.take() {
                    self.spans.keys.entry(path).or_insert(pos);
                }
                self.stack.pop();
                self.value_end();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_items_and_block_text() {
        let text = "summary: x\nmodule: |\n  (module)\n  (oops)\nsteps:\n  - invoke: f\n    args: [1]\n  - grow: {memory: m, delta: 1}\n";
        let s = Spans::parse(text);
        assert_eq!(s.find("summary"), Pos { line: 1, col: 1 });
        assert_eq!(s.find("steps.0"), Pos { line: 6, col: 5 });
        assert_eq!(s.find("steps.0.args").line, 7);
        assert_eq!(s.find("steps.1").line, 8);
        assert_eq!(s.find("steps.1.grow.delta").line, 8);
        assert_eq!(s.inside("module", 2, 3), Pos { line: 4, col: 5 });
        // An unknown path falls back to its nearest ancestor.
        assert_eq!(s.find("steps.1.nothing.here").line, 8);
    }
}

#[cfg(test)]
mod step_line_tests {
    use super::*;

    /// On every case file of the corpus, the line scan finds the steps where
    /// the YAML reading does (or declines, and the reading is used).
    #[test]
    fn the_step_line_scan_agrees_with_the_yaml_reading() {
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/cases"))];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("known-divergences.yaml") {
                    files.push(p);
                }
            }
        }
        let mut scanned = 0;
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            // `[${n}]` is no YAML until `vary` fills it in: the loader reads
            // the expanded text of those.
            if text.contains("${") {
                continue;
            }
            let spans = Spans::parse(&text);
            let Some(lines) = block_step_lines(&text) else { continue };
            let read: Vec<usize> = (0..lines.len()).map(|i| spans.find(&format!("steps.{i}")).line).collect();
            assert_eq!(lines, read, "{}", f.display());
            scanned += 1;
        }
        assert!(scanned * 10 >= files.len() * 8, "the scan covers most files: {scanned} of {}", files.len());
        // Flow-style steps are not a block sequence: the scan declines.
        assert_eq!(block_step_lines("summary: s\nsteps: [{invoke: f}]\n"), None);
        assert_eq!(block_step_lines("summary: s\nsteps:\n- invoke: f\n  args: [1]\n- invoke: g\nmodule: x\n"), Some(vec![3, 5]));
    }
}
