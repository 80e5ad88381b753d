//! The report's model: a page is a header and sections; a section is a
//! title and blocks (prose, tables, lists, the matrix). `sections.rs`
//! writes every section once on this model; `markdown.rs` and `html.rs`
//! only render it. What only a page can do (hover text, links, colours,
//! bars) is carried as data that Markdown leaves out.

use serde_json::Value;

/// The whole report.
pub struct Page {
    pub header: Header,
    pub sections: Vec<Section>,
}

/// What the report is of: the run, its facts and counts, and warnings.
pub struct Header {
    pub title: String,
    /// When the run started, and how long it took.
    pub started: String,
    pub seconds: f64,
    /// `corpus abc123`, `engines 17`, ...
    pub facts: Vec<(&'static str, String)>,
    /// `2074 cells, 2000 pass, ...`
    pub counts: String,
    /// The run was cut short.
    pub incomplete: bool,
    pub load_errors: Vec<String>,
}

pub struct Section {
    /// The page anchor (`matrix`) and the navigation's word for it (empty:
    /// not in the navigation, as a module's own section).
    pub id: String,
    pub nav: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

pub enum Block {
    Para(Vec<Span>),
    Table(Table),
    /// Bullet points.
    List(Vec<Vec<Span>>),
    /// The case matrix: a table per group of cases in Markdown, one
    /// filterable table on the page.
    Matrix(Matrix),
}

/// Inline text.
#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    Text(String),
    Code(String),
    Bold(String),
    /// A link within the page (`#case=ID`); Markdown shows the text only
    /// (as code where `code`).
    Link { href: String, text: String, code: bool },
    /// The agreement group of an engine where engines differ: `(A)` in
    /// Markdown, a superscript on the page.
    Group(char),
    /// Secondary detail the page shows small (a version, a family);
    /// Markdown leaves it out.
    Aside(String),
    /// How to use the page (hover, click); Markdown leaves it out.
    Hint(String),
}

impl Span {
    pub fn text(s: impl Into<String>) -> Span {
        Span::Text(s.into())
    }

    pub fn code(s: impl Into<String>) -> Span {
        Span::Code(s.into())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    /// The page's class for it (`pairs`, `atlas`).
    pub class: &'static str,
    pub head: Vec<Cell>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table whose columns are all left-aligned.
    pub fn new(class: &'static str, head: Vec<Cell>) -> Table {
        let align = vec![Align::Left; head.len()];
        Table { class, head, align, rows: Vec::new() }
    }
}

/// One table cell: one or more lines (joined by `<br>` in Markdown, one
/// block each on the page), and what only the page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub lines: Vec<Line>,
    /// Nothing at all here (not even an empty value): Markdown `| |`.
    pub blank: bool,
    /// A row's header cell (`<th>`), and bold in Markdown where `bold`.
    pub header: bool,
    pub bold: bool,
    /// The page's class (a verdict colour), hover text, inline style.
    pub class: Option<String>,
    pub title: Option<String>,
    pub style: Option<String>,
    /// A bar of coloured segments (percent, class) drawn before the text.
    pub bar: Vec<(f64, &'static str)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    pub spans: Vec<Span>,
    pub class: Option<String>,
    pub title: Option<String>,
}

impl Cell {
    pub fn of(spans: Vec<Span>) -> Cell {
        Cell { lines: vec![Line { spans, ..Line::default() }], ..Cell::default() }
    }

    pub fn text(s: impl Into<String>) -> Cell {
        Cell::of(vec![Span::text(s)])
    }

    /// A cell with nothing in it.
    pub fn blank() -> Cell {
        Cell { blank: true, ..Cell::default() }
    }

    /// Several lines, each with its own class and hover text.
    pub fn lines(lines: Vec<Line>) -> Cell {
        Cell { lines, ..Cell::default() }
    }

    pub fn header(mut self) -> Cell {
        self.header = true;
        self
    }

    pub fn bold(mut self) -> Cell {
        self.bold = true;
        self
    }

    pub fn class(mut self, c: impl Into<String>) -> Cell {
        self.class = Some(c.into());
        self
    }

    pub fn title(mut self, t: impl Into<String>) -> Cell {
        self.title = Some(t.into());
        self
    }

    pub fn title_opt(mut self, t: Option<String>) -> Cell {
        self.title = t;
        self
    }
}

/// The case matrix.
pub struct Matrix {
    /// The column heads before the engines: case, step, expected.
    pub leading: Vec<&'static str>,
    pub engines: Vec<MatrixEngine>,
    /// Families in column order, with how many columns each.
    pub families: Vec<(String, usize)>,
    /// Every tag of a row, for the page's filter.
    pub tags: Vec<String>,
    pub groups: Vec<(String, Vec<MatrixRow>)>,
    /// What the page shows when a case is clicked: its index (`engines`,
    /// `cases`: id -> number) and one JSON block per case.
    pub index: Value,
    pub details: Vec<Value>,
}

pub struct MatrixEngine {
    pub id: String,
    /// What the page calls it, its family, version and configuration.
    pub name: String,
    pub family: String,
    pub version: String,
    pub configuration: Option<String>,
}

pub struct MatrixRow {
    pub id: String,
    pub tags: Vec<String>,
    /// Per engine, its agreement group (empty where it did not run).
    pub agree: Vec<Option<usize>>,
    pub failing: bool,
    /// The case, step and expected cells, then one per engine.
    pub cells: Vec<Cell>,
}
