//! Where each key and item of a YAML document stands, so that errors found
//! after deserialization (a step naming a missing export, WAT that does not
//! parse) can still point at a file line and column.
//!
//! serde_yaml reports positions only for its own errors, so the document is
//! read a second time with yaml-rust2's marked event parser.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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
