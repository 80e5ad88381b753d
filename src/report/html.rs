//! index.html: one self-contained page (inline CSS and JS, no network, opens
//! from `file://`). A renderer: every word comes from the section model
//! (`sections.rs`). The matrix is rendered as one table; the script only
//! filters rows, keeps the filter in the URL hash and shows a case's
//! details (from a JSON block in the page) when a cell is clicked.

use super::section::*;
use super::view::View;
use std::fmt::Write;

pub const CSS: &str = include_str!("report.css");
pub const JS: &str = include_str!("report.js");

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(view: &View) -> String {
    render_page(&super::sections::page(view))
}

fn matrix_of(page: &Page) -> Option<&Matrix> {
    page.sections.iter().flat_map(|s| &s.blocks).find_map(|b| match b {
        Block::Matrix(m) => Some(m),
        _ => None,
    })
}

pub fn render_page(page: &Page) -> String {
    let h = &page.header;
    let mut o = String::new();
    o.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(o, "<title>{}</title>\n<style>", esc(&h.title));
    o.push_str(CSS);
    for e in 0..matrix_of(page).map_or(0, |m| m.engines.len()) {
        let _ = writeln!(o, "table.hide-e{e} .e{e} {{ display: none; }}");
    }
    o.push_str("</style>\n</head>\n<body>\n");

    let _ = write!(o, "<header>\n<h1>{}</h1>\n<p class=\"facts\">", esc(&h.title));
    let _ = write!(o, "<span>run {} ({:.2} s)</span>", esc(&h.started), h.seconds);
    for (k, v) in &h.facts {
        let _ = write!(o, " · <span>{k} {}</span>", esc(v));
    }
    let _ = writeln!(o, " · <span>{}</span></p>", esc(&h.counts));
    if h.incomplete {
        o.push_str("<p class=\"warn\">Incomplete: the run was cut short; cells that did not finish are missing.</p>\n");
    }
    for e in &h.load_errors {
        let _ = writeln!(o, "<p class=\"warn\">load error: {}</p>", esc(e));
    }
    o.push_str("<nav>");
    for (i, s) in page.sections.iter().filter(|s| !s.nav.is_empty()).enumerate() {
        let _ = write!(o, "{}<a href=\"#{}\">{}</a>", if i > 0 { " " } else { "" }, esc(&s.id), esc(&s.nav));
    }
    o.push_str("</nav>\n</header>\n<main>\n");
    for s in &page.sections {
        let _ = writeln!(o, "<section id=\"{}\">\n<h2>{}</h2>", esc(&s.id), esc(&s.title));
        for b in &s.blocks {
            block(&mut o, b);
        }
        o.push_str("</section>\n");
    }
    o.push_str("</main>\n");
    if let Some(m) = matrix_of(page) {
        // No `<` at all, so nothing can end a block early (`<` only occurs
        // inside JSON strings, where `\u003c` means the same).
        let _ = writeln!(o, "<script type=\"application/json\" id=\"data\">{}</script>", m.index.to_string().replace('<', "\\u003c"));
        for (i, d) in m.details.iter().enumerate() {
            let _ = writeln!(o, "<script type=\"application/json\" id=\"case-{i}\">{}</script>", d.to_string().replace('<', "\\u003c"));
        }
    }
    o.push_str("<script>\n");
    o.push_str(JS);
    o.push_str("</script>\n</body>\n</html>\n");
    o
}

fn spans(s: &[Span]) -> String {
    let mut out = String::new();
    for span in s {
        match span {
            Span::Text(t) | Span::Hint(t) => out.push_str(&esc(t)),
            Span::Code(t) => {
                let _ = write!(out, "<code>{}</code>", esc(t));
            }
            Span::Bold(t) => {
                let _ = write!(out, "<b>{}</b>", esc(t));
            }
            Span::Link { href, text, code } => {
                let text = if *code { format!("<code>{}</code>", esc(text)) } else { esc(text) };
                let _ = write!(out, "<a href=\"{}\">{text}</a>", esc(href));
            }
            Span::Group(g) => {
                let _ = write!(out, " <sup>{g}</sup>");
            }
            Span::Aside(t) if t.is_empty() => {}
            Span::Aside(t) => {
                let _ = write!(out, " <small>{}</small>", esc(t));
            }
        }
    }
    out
}

/// `class="..."`, `title="..."` and `style="..."` attributes, with a leading space each.
fn attrs(class: &[&str], title: Option<&str>, style: Option<&str>) -> String {
    let mut out = String::new();
    let class: Vec<&str> = class.iter().copied().filter(|c| !c.is_empty()).collect();
    if !class.is_empty() {
        let _ = write!(out, " class=\"{}\"", esc(&class.join(" ")));
    }
    if let Some(t) = title {
        let _ = write!(out, " title=\"{}\"", esc(t));
    }
    if let Some(s) = style {
        let _ = write!(out, " style=\"{}\"", esc(s));
    }
    out
}

/// A cell as `<td>` (or `<th>`), `extra` classes first.
fn cell(o: &mut String, c: &Cell, extra: &str) {
    let tag = if c.header { "th" } else { "td" };
    let _ = write!(o, "<{tag}{}>", attrs(&[extra, c.class.as_deref().unwrap_or("")], c.title.as_deref(), c.style.as_deref()));
    if !c.bar.is_empty() {
        o.push_str("<div class=\"bar\">");
        for (pct, class) in &c.bar {
            let _ = write!(o, "<span class=\"{class}\" style=\"width:{pct:.2}%\"></span>");
        }
        o.push_str("</div>");
    }
    match c.lines.as_slice() {
        [one] if one.class.is_none() && one.title.is_none() => o.push_str(&spans(&one.spans)),
        lines => {
            for l in lines {
                let _ = write!(o, "<div{}>{}</div>", attrs(&[l.class.as_deref().unwrap_or("")], l.title.as_deref(), None), spans(&l.spans));
            }
        }
    }
    let _ = write!(o, "</{tag}>");
}

fn block(o: &mut String, b: &Block) {
    match b {
        Block::Para(s) => {
            let _ = writeln!(o, "<p>{}</p>", spans(s));
        }
        Block::List(items) => {
            o.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(o, "<li>{}</li>", spans(item));
            }
            o.push_str("</ul>\n");
        }
        Block::Table(t) => {
            let _ = write!(o, "<div class=\"scroll\"><table{}>\n<tr>", attrs(&[t.class], None, None));
            for (i, h) in t.head.iter().enumerate() {
                let right = if t.align.get(i) == Some(&Align::Right) { "num" } else { "" };
                cell(o, &Cell { header: true, ..h.clone() }, right);
            }
            o.push_str("</tr>\n");
            for r in &t.rows {
                o.push_str("<tr>");
                for (i, c) in r.iter().enumerate() {
                    let right = if t.align.get(i) == Some(&Align::Right) && !c.header { "num" } else { "" };
                    cell(o, c, right);
                }
                o.push_str("</tr>\n");
            }
            o.push_str("</table></div>\n");
        }
        Block::Matrix(m) => matrix(o, m),
    }
}

/// The matrix as one table the page's script filters: rows carry their
/// id, tags, agreement groups and whether they fail; columns their engine.
fn matrix(o: &mut String, m: &Matrix) {
    let n = m.engines.len();
    o.push_str("<form id=\"filters\" onsubmit=\"return false\">\n");
    o.push_str("<label><input type=\"checkbox\" id=\"f-div\"> only divergent rows</label>\n");
    o.push_str("<label><input type=\"checkbox\" id=\"f-fail\"> only unexpected</label>\n");
    o.push_str("<label>tag <select id=\"f-tag\"><option value=\"\">all</option>");
    for t in &m.tags {
        let _ = write!(o, "<option>{}</option>", esc(t));
    }
    o.push_str("</select></label>\n<input type=\"search\" id=\"f-q\" placeholder=\"case id contains\">\n");
    o.push_str("<label>family <select id=\"f-fam\"><option value=\"\">all</option>");
    for (f, _) in &m.families {
        let _ = write!(o, "<option>{}</option>", esc(f));
    }
    o.push_str("</select></label>\n<span class=\"engines\">");
    for (i, e) in m.engines.iter().enumerate() {
        let _ = write!(
            o,
            "<label><input type=\"checkbox\" class=\"f-eng\" value=\"{}\" data-col=\"{i}\" data-fam=\"{}\" checked> {}</label> ",
            esc(&e.id),
            esc(&e.family),
            esc(&e.id)
        );
    }
    o.push_str("</span>\n<span id=\"count\"></span>\n</form>\n");
    // Hidden until the page's script runs: laying out a growing table after
    // every chunk the parser delivers costs seconds for 10,000 cells.
    o.push_str("<noscript><style>#m { display: table !important; }</style></noscript>\n");
    o.push_str("<div class=\"scroll\">\n<table id=\"m\" style=\"display:none\">\n<colgroup><col class=\"c-case\"><col class=\"c-step\"><col class=\"c-exp\">");
    for e in 0..n {
        let _ = write!(o, "<col class=\"c-eng e{e}\">");
    }
    // A header row per family over its columns, then the columns.
    o.push_str("</colgroup>\n<thead><tr class=\"fam\">");
    for (i, h) in m.leading.iter().enumerate() {
        let class = if i == 0 { " class=\"case\"" } else { "" };
        let _ = write!(o, "<th{class} rowspan=\"2\">{}</th>", esc(h));
    }
    let mut col = 0;
    for (f, k) in &m.families {
        let classes: Vec<String> = (col..col + k).map(|e| format!("f{e}")).collect();
        let _ = write!(o, "<th class=\"famh {}\" colspan=\"{k}\" data-fam=\"{}\">{}</th>", classes.join(" "), esc(f), esc(f));
        col += k;
    }
    o.push_str("</tr><tr>");
    for (i, e) in m.engines.iter().enumerate() {
        let title = e.configuration.as_deref().map(|c| format!(" title=\"configuration: {}\"", esc(c))).unwrap_or_default();
        let _ = write!(o, "<th class=\"e{i}\"{title}>{}<br><small>{}</small></th>", esc(&e.name), esc(&e.version));
    }
    o.push_str("</tr></thead>\n");
    let lead = m.leading.len();
    for (group, rows) in &m.groups {
        let _ = writeln!(
            o,
            "<tbody class=\"grp\" data-group=\"{g}\"><tr class=\"gh\"><th colspan=\"{}\"><button type=\"button\" class=\"toggle\">{g}</button> <span class=\"gcount\">{} cases</span></th></tr>",
            n + lead,
            rows.len(),
            g = esc(group)
        );
        for r in rows {
            let agree: Vec<String> = r.agree.iter().map(|g| g.map(|g| g.to_string()).unwrap_or_default()).collect();
            let _ = write!(
                o,
                "<tr class=\"row\" data-id=\"{}\" data-tags=\"{}\" data-agree=\"{}\" data-fail=\"{}\">",
                esc(&r.id),
                esc(&r.tags.join(" ")),
                agree.join(","),
                u8::from(r.failing)
            );
            for (i, c) in r.cells.iter().enumerate() {
                let column = if i >= lead { format!("e{}", i - lead) } else { String::new() };
                cell(o, c, &column);
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</tbody>\n");
    }
    o.push_str("</table>\n</div>\n<div id=\"detail\" hidden></div>\n");
}
