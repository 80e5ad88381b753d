//! `audit`'s modules in the report: the overview (a row per module, a
//! column per engine) and each module's own section — its declared
//! memories and imports, a row per column with every answer and figure,
//! the engines' whole texts, and the verdict in words.

use super::section::*;
use super::view::View;
use crate::results::audit::{row, verdict, Record, ROW_HEAD};

/// The page anchor of a module's own section.
fn anchor(module: &str) -> String {
    let name: String = module.rsplit('/').next().unwrap_or(module).chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("module-{name}")
}

/// The modules in the order the audit wrote them, each with its records.
fn by_module<'a>(view: &View<'a>) -> Vec<(&'a str, Vec<&'a Record>)> {
    let mut out: Vec<(&str, Vec<&Record>)> = Vec::new();
    for r in view.modules {
        match out.iter_mut().find(|(m, _)| *m == r.module) {
            Some((_, rs)) => rs.push(r),
            None => out.push((&r.module, vec![r])),
        }
    }
    out
}

/// The overview, then one section per module; none without an audit.
pub fn sections(view: &View) -> Vec<Section> {
    let modules = by_module(view);
    if modules.is_empty() {
        return Vec::new();
    }
    let mut out = vec![overview(view, &modules)];
    out.extend(modules.iter().map(|(name, records)| one(name, records)));
    out
}

/// `audit`'s modules: a row per module, a column per engine, each cell the
/// pages its memory reached (of its maximum) or why it did not instantiate.
fn overview(view: &View, modules: &[(&str, Vec<&Record>)]) -> Section {
    let mut columns: Vec<&str> = Vec::new();
    for r in view.modules {
        if !columns.contains(&r.column.as_str()) {
            columns.push(&r.column);
        }
    }
    let mut head = vec![Cell::text("module"), Cell::text("memory")];
    head.extend(columns.iter().map(|c| Cell::text(*c)));
    let mut t = Table::new("modules", head);
    for (name, mine) in modules {
        let first = mine[0];
        let memory = first.memories.first().map(|m| m.describe()).unwrap_or_else(|| "none".into());
        let link = Span::Link { href: format!("#{}", anchor(name)), text: name.to_string(), code: true };
        let mut row = vec![Cell::of(vec![link]).header().title(format!("sha256 {}, {} bytes", first.sha256, first.bytes)), Cell::text(memory)];
        for c in &columns {
            row.push(match mine.iter().find(|r| r.column == *c) {
                None => Cell::text(""),
                Some(r) if !r.available => Cell::text("–").class("v-unavailable").title_opt(r.reason.clone()),
                Some(r) if r.instantiates == Some(true) => {
                    let reached = r.reached_pages.map(|p| format!("{p} pages")).unwrap_or_else(|| "instantiates".into());
                    Cell::text(format!("✓ {reached}")).class("v-pass").title(format!("one page past: {}", r.one_page_past.as_deref().unwrap_or("-")))
                }
                Some(r) if r.instantiates == Some(false) => Cell::text("✗ no").class("v-fail").title(r.messages.join("\n")),
                // Not answered: why, never a "no".
                Some(r) => match r.unanswered.get("instantiates") {
                    Some(why) => Cell::text(format!("? {}", why.label())).class("v-unavailable").title(why.text.clone()),
                    None => Cell::text("? not answered").class("v-unavailable"),
                },
            });
        }
        t.rows.push(row);
    }
    let intro = vec![
        Span::text("Modules audited by "),
        Span::code("wasm-matrix audit"),
        Span::text(": whether each instantiates with every import stubbed, and the pages its memory reached growing to its maximum. Each module's name leads to its own section: every answer of every column, with the engines' whole texts."),
        Span::Hint(" Hover a cell for what one page more did, why it did not instantiate, or why the column gave no answer (timed out, over the memory budget, crashed).".into()),
    ];
    Section { id: "modules".into(), nav: "modules".into(), title: "Modules".into(), blocks: vec![Block::Para(intro), Block::Table(t)] }
}

fn one(name: &str, records: &[&Record]) -> Section {
    let first = records[0];
    let mut facts: Vec<Vec<Span>> = vec![vec![Span::text(format!("{} bytes, sha256 ", first.bytes)), Span::code(&first.sha256)]];
    if first.memories.is_empty() {
        facts.push(vec![Span::text("memory: none")]);
    }
    for m in &first.memories {
        let exported = if m.exports.is_empty() { String::new() } else { format!(", exported as {}", m.exports.join(", ")) };
        facts.push(vec![Span::text(format!("memory: {}{exported}", m.describe()))]);
    }
    let imports: Vec<String> = first
        .imports
        .iter()
        .map(|(module, kinds)| format!("{module}: {}", kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")))
        .collect();
    facts.push(vec![Span::text(format!("imports: {}", if imports.is_empty() { "none".into() } else { imports.join("; ") }))]);
    let mut t = Table::new("module", ROW_HEAD.iter().map(|h| Cell::text(*h)).collect());
    for r in records.iter().filter(|r| r.available) {
        let cells = row(r);
        t.rows.push(cells.into_iter().enumerate().map(|(i, c)| if i == 0 { Cell::text(c).header() } else { Cell::text(c) }).collect());
    }
    let mut blocks = vec![Block::List(facts), Block::Table(t)];
    // Every text in full: what failed, and why a question got no answer.
    let mut texts: Vec<Vec<Span>> = Vec::new();
    for r in records {
        if !r.available {
            texts.push(vec![Span::Bold(r.column.clone()), Span::text(format!(": unavailable: {}", r.reason.as_deref().unwrap_or("-")))]);
        }
        for m in &r.messages {
            // Every line, one after another (a Markdown list item holds one line).
            texts.push(vec![Span::Bold(r.column.clone()), Span::text(": "), Span::code(m.trim_end().replace('\n', " ⏎ "))]);
        }
        for (field, why) in &r.unanswered {
            texts.push(vec![Span::Bold(r.column.clone()), Span::text(format!(": {field} not answered: {}", why.label())), Span::text(if why.text.is_empty() { String::new() } else { format!(" — {}", why.text) })]);
        }
    }
    if !texts.is_empty() {
        blocks.push(Block::Para(vec![Span::text("The engines' texts, whole:")]));
        blocks.push(Block::List(texts));
    }
    blocks.push(Block::Para(vec![Span::Bold("Verdict:".into()), Span::text(format!(" {}", verdict(&first.memories, records)))]));
    Section { id: anchor(name), nav: String::new(), title: format!("Module {}", name.rsplit('/').next().unwrap_or(name)), blocks }
}
