//! REPORT.md: the report's sections as GitHub-flavoured Markdown, fit for
//! a README or a pull-request comment. A renderer: every word comes from
//! the section model (`sections.rs`).

use super::section::*;
use super::view::View;
use std::fmt::Write;

/// Escapes text for a table cell or a list item.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ").replace('<', "&lt;")
}

pub fn render(view: &View) -> String {
    render_page(&super::sections::page(view))
}

pub fn render_page(page: &Page) -> String {
    let mut o = String::new();
    let h = &page.header;
    let _ = writeln!(o, "# {}\n", h.title);
    let _ = writeln!(o, "Run: {}, {:.2} s", h.started, h.seconds);
    let facts: Vec<String> = h.facts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(o, "\n{} · {}\n", facts.join(" · "), h.counts);
    if h.incomplete {
        let _ = writeln!(o, "> **Incomplete**: the run was cut short; cells that did not finish are missing.\n");
    }
    for e in &h.load_errors {
        let _ = writeln!(o, "> load error: {}\n", cell(e));
    }
    for s in &page.sections {
        blank_line(&mut o);
        let _ = writeln!(o, "## {}\n", s.title);
        for b in &s.blocks {
            blank_line(&mut o);
            block(&mut o, b);
        }
    }
    o
}

/// Ends what is written so far with an empty line.
fn blank_line(o: &mut String) {
    while !o.ends_with("\n\n") {
        o.push('\n');
    }
}

/// Inline text; `escape` in tables and lists.
fn spans(spans: &[Span], escape: bool) -> String {
    let esc = |t: &str| if escape { cell(t) } else { t.to_string() };
    let mut out = String::new();
    for s in spans {
        match s {
            Span::Text(t) => out.push_str(&esc(t)),
            Span::Code(t) | Span::Link { text: t, code: true, .. } => {
                let _ = write!(out, "`{}`", esc(t).replace('`', "'"));
            }
            Span::Bold(t) => {
                let _ = write!(out, "**{}**", esc(t));
            }
            Span::Link { text, .. } => out.push_str(&esc(text)),
            Span::Group(g) => {
                let _ = write!(out, " ({g})");
            }
            Span::Aside(_) | Span::Hint(_) => {}
        }
    }
    out
}

fn cell_text(c: &Cell) -> String {
    let lines: Vec<String> = c.lines.iter().map(|l| spans(&l.spans, true)).collect();
    let text = lines.join("<br>");
    if c.bold { format!("**{text}**") } else { text }
}

/// A table row: `| a | b |`; a blank cell is `| |`.
fn row(o: &mut String, cells: &[Cell]) {
    o.push('|');
    for c in cells {
        if c.blank {
            o.push_str(" |");
        } else {
            let _ = write!(o, " {} |", cell_text(c));
        }
    }
    o.push('\n');
}

fn table(o: &mut String, t: &Table) {
    row(o, &t.head);
    o.push('|');
    for a in &t.align {
        o.push_str(match a {
            Align::Left => "---|",
            Align::Right => "--:|",
        });
    }
    o.push('\n');
    for r in &t.rows {
        row(o, r);
    }
}

fn block(o: &mut String, b: &Block) {
    match b {
        Block::Para(s) => {
            let _ = writeln!(o, "{}\n", spans(s, false));
        }
        Block::Table(t) => table(o, t),
        Block::List(items) => {
            for item in items {
                let _ = writeln!(o, "- {}", spans(item, true));
            }
        }
        Block::Matrix(m) => {
            let mut head: Vec<Cell> = m.leading.iter().map(|h| Cell::text(*h)).collect();
            head.extend(m.engines.iter().map(|e| Cell::text(&e.id)));
            for (group, rows) in &m.groups {
                let _ = writeln!(o, "### {group} ({} cases)\n", rows.len());
                let mut t = Table::new("", head.clone());
                t.rows = rows.iter().map(|r| r.cells.clone()).collect();
                table(o, &t);
                o.push('\n');
            }
        }
    }
}
