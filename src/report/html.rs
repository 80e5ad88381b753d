//! index.html: one self-contained page (inline CSS and JS, no network, opens
//! from `file://`). The matrix is rendered here as a table; the script only
//! filters rows, keeps the filter in the URL hash and shows a case's
//! details (from a JSON block in the page) when a cell is clicked.

use super::markdown::mark;
use super::terminal::{expect_text, short};
use super::view::{group_letter, Holds, View};
use crate::diff::Verdict;
use serde_json::json;
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

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::Fail => "v-fail",
        Verdict::Known => "v-known",
        Verdict::Fixed => "v-fixed",
        Verdict::Unavailable => "v-unavailable",
    }
}

/// The details the page shows when a case is clicked: per case, its steps
/// and each engine's outcomes, the texts once each in the case's `strings`
/// (a cell's step is `[short, message or -1, ok: 1, 0 or -1 unjudged]`, with its own label as a
/// fourth element only where it differs from the case's). Each case is its
/// own JSON block, parsed when it is opened: a page with the whole spec
/// suite parses none of it to show the matrix.
fn details(view: &View) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for r in &view.rows {
        let case_steps: &[crate::results::CaseStep] = r.case.map(|c| c.steps.as_slice()).unwrap_or_default();
        let steps: Vec<serde_json::Value> = case_steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.step,
                    "expect": expect_text(&s.expect),
                    "message": s.message,
                    "claim": s.claim.as_ref().map(expect_text),
                    "line": s.line,
                })
            })
            .collect();
        let mut strings: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut intern = |text: String| -> usize {
            *index.entry(text.clone()).or_insert_with(|| {
                strings.push(text);
                strings.len() - 1
            })
        };
        let cells: Vec<serde_json::Value> = r
            .cells
            .iter()
            .map(|c| match c {
                None => serde_json::Value::Null,
                Some(c) => json!({
                    "verdict": c.verdict.name(),
                    "reason": c.reason,
                    "ms": c.ms,
                    "isolated": c.cross_origin_isolated,
                    "steps": c.steps.iter().enumerate().map(|(i, s)| {
                        let message = s.message().map(|m| intern(m.to_string()) as i64).unwrap_or(-1);
                        let mut v = vec![json!(intern(short(s))), json!(message), json!(match s.ok { Some(true) => 1, Some(false) => 0, None => -1 })];
                        if case_steps.get(i).map(|c| c.step.as_str()) != Some(s.step.as_str()) {
                            v.push(json!(s.step));
                        }
                        serde_json::Value::Array(v)
                    }).collect::<Vec<_>>(),
                }),
            })
            .collect();
        let case = r.case;
        out.push(json!({
            "file": case.map(|c| c.file.as_str()),
            "summary": case.map(|c| c.summary.as_str()),
            "source": case.and_then(|c| c.source.as_deref()),
            "tags": r.tags,
            "features": case.map(|c| c.features.as_slice()).unwrap_or_default(),
            "wat": case.and_then(|c| c.wat.as_deref()),
            "steps": steps,
            "strings": strings,
            "cells": cells,
        }));
    }
    out
}

/// One `<th>` per engine, closing the header row.
fn engine_headers(o: &mut String, view: &View) {
    for e in &view.engines {
        let _ = write!(o, "<th>{}</th>", esc(&e.id));
    }
    o.push_str("</tr>\n");
}

pub fn render(view: &View) -> String {
    let doc = view.doc;
    let n = view.engines.len();
    let mut o = String::new();
    o.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str("<title>wasm-matrix report</title>\n<style>\n");
    o.push_str(CSS);
    for e in 0..n {
        let _ = writeln!(o, "table.hide-e{e} .e{e} {{ display: none; }}");
    }
    o.push_str("</style>\n</head>\n<body>\n");

    // Header.
    let summary = doc.summary.clone().unwrap_or_default();
    o.push_str("<header>\n<h1>wasm-matrix report</h1>\n<p class=\"facts\">");
    let _ = write!(o, "<span>run {} ({:.2} s)</span>", esc(doc.started.as_deref().unwrap_or("unknown")), summary.seconds);
    for (k, v) in view.facts() {
        let _ = write!(o, " · <span>{k} {}</span>", esc(&v));
    }
    let mut counts = summary.clone();
    counts.seconds = 0.0;
    let _ = writeln!(o, " · <span>{}</span></p>", esc(counts.line().split(" in ").next().unwrap_or_default()));
    if doc.interrupted || doc.partial {
        o.push_str("<p class=\"warn\">Incomplete: the run was cut short; cells that did not finish are missing.</p>\n");
    }
    for e in &doc.load_errors {
        let _ = writeln!(o, "<p class=\"warn\">load error: {}</p>", esc(e));
    }
    o.push_str("<nav><a href=\"#engines\">engines</a> <a href=\"#matrix\">matrix</a> <a href=\"#pairwise\">agreement</a> <a href=\"#messages\">messages</a>");
    if view.baseline.is_some() {
        o.push_str(" <a href=\"#changes\">what changed</a>");
    }
    o.push_str(" <a href=\"#features\">features</a>");
    if view.atlas.is_some() {
        o.push_str(" <a href=\"#atlas\">limits atlas</a>");
    }
    if !view.limits.is_empty() {
        o.push_str(" <a href=\"#limits\">limits</a>");
    }
    if !view.claims.is_empty() {
        o.push_str(" <a href=\"#claims\">seed claims</a>");
    }
    o.push_str("</nav>\n</header>\n<main>\n");

    // Engines and conformance bars.
    o.push_str("<section id=\"engines\">\n<h2>Engines</h2>\n<div class=\"bars\">\n");
    for (e, c) in view.engines.iter().zip(&view.conformance) {
        let _ = write!(o, "<div class=\"bar-row\"><div class=\"bar-name\"><b>{}</b> <small>{}</small> ", esc(e.name.as_deref().unwrap_or(&e.id)), esc(&super::view::family(e)));
        if !e.available {
            let _ = writeln!(
                o,
                "<span class=\"unavail\">unavailable: {}</span></div></div>",
                esc(e.reason.as_deref().unwrap_or(""))
            );
            continue;
        }
        let _ = write!(o, "<small>{}</small></div>", esc(e.version.as_deref().unwrap_or("")));
        let _ = write!(o, "<div class=\"bar\" title=\"{} pass, {} known, {} fail\">", c.pass, c.known, c.fail + c.fixed);
        for (n, class) in [(c.pass, "v-pass"), (c.known, "v-known"), (c.fail + c.fixed, "v-fail")] {
            if n > 0 {
                let _ = write!(o, "<span class=\"{class}\" style=\"width:{:.2}%\"></span>", c.pct(n));
            }
        }
        let _ = writeln!(
            o,
            "</div><div class=\"bar-num\">{:.1}% <small>{} pass · {} known · {} fail · steps {} of {} ({:.2}%)</small></div></div>",
            c.pct(c.pass),
            c.pass,
            c.known,
            c.fail + c.fixed,
            c.steps_ok,
            c.steps_judged,
            c.steps_pct()
        );
    }
    o.push_str("</div>\n</section>\n");

    // The matrix.
    o.push_str("<section id=\"matrix\">\n<h2>Matrix</h2>\n<form id=\"filters\" onsubmit=\"return false\">\n");
    o.push_str("<label><input type=\"checkbox\" id=\"f-div\"> only divergent rows</label>\n");
    o.push_str("<label><input type=\"checkbox\" id=\"f-fail\"> only unexpected</label>\n");
    o.push_str("<label>tag <select id=\"f-tag\"><option value=\"\">all</option>");
    let mut tags: Vec<&str> = view.rows.iter().flat_map(|r| r.tags.iter().map(String::as_str)).collect();
    tags.sort_unstable();
    tags.dedup();
    for t in tags {
        let _ = write!(o, "<option>{}</option>", esc(t));
    }
    o.push_str("</select></label>\n<input type=\"search\" id=\"f-q\" placeholder=\"case id contains\">\n");
    let families = view.families();
    o.push_str("<label>family <select id=\"f-fam\"><option value=\"\">all</option>");
    for (f, _) in &families {
        let _ = write!(o, "<option>{}</option>", esc(f));
    }
    o.push_str("</select></label>\n<span class=\"engines\">");
    for (i, e) in view.engines.iter().enumerate() {
        let _ = write!(
            o,
            "<label><input type=\"checkbox\" class=\"f-eng\" value=\"{}\" data-col=\"{i}\" data-fam=\"{}\" checked> {}</label> ",
            esc(&e.id),
            esc(&super::view::family(e)),
            esc(&e.id)
        );
    }
    o.push_str("</span>\n<span id=\"count\"></span>\n</form>\n");
    o.push_str("<p class=\"legend\"><span class=\"v-pass\">pass</span> <span class=\"v-known\">known divergence</span> <span class=\"v-fail\">fail</span> <span class=\"v-fixed\">listed, conforms now</span> <span class=\"v-unavailable\">unavailable</span> · letters group engines with identical outcomes where they differ · hover a cell for the engine's message, click for the case</p>\n");
    // Hidden until the page's script runs: laying out a growing table after
    // every chunk the parser delivers costs seconds for 10,000 cells.
    o.push_str("<noscript><style>#m { display: table !important; }</style></noscript>\n");
    o.push_str("<div class=\"scroll\">\n<table id=\"m\" style=\"display:none\">\n<colgroup><col class=\"c-case\"><col class=\"c-step\"><col class=\"c-exp\">");
    for e in 0..n {
        let _ = write!(o, "<col class=\"c-eng e{e}\">");
    }
    // A header row per family over its columns, then the columns.
    o.push_str("</colgroup>\n<thead><tr class=\"fam\"><th class=\"case\" rowspan=\"2\">case</th><th rowspan=\"2\">step</th><th rowspan=\"2\">expected</th>");
    let mut col = 0;
    for (f, k) in &families {
        let classes: Vec<String> = (col..col + k).map(|e| format!("f{e}")).collect();
        let _ = write!(o, "<th class=\"famh {}\" colspan=\"{k}\" data-fam=\"{}\">{}</th>", classes.join(" "), esc(f), esc(f));
        col += k;
    }
    o.push_str("</tr><tr>");
    for (i, e) in view.engines.iter().enumerate() {
        let title = e.configuration.as_deref().map(|c| format!(" title=\"configuration: {}\"", esc(c))).unwrap_or_default();
        let _ = write!(o, "<th class=\"e{i}\"{title}>{}<br><small>{}</small></th>", esc(e.name.as_deref().unwrap_or(&e.id)), esc(e.version.as_deref().unwrap_or("")));
    }
    o.push_str("</tr></thead>\n");
    for (group, rows) in &view.groups {
        let _ = writeln!(
            o,
            "<tbody class=\"grp\" data-group=\"{g}\"><tr class=\"gh\"><th colspan=\"{}\"><button type=\"button\" class=\"toggle\">{g}</button> <span class=\"gcount\">{} cases</span></th></tr>",
            n + 3,
            rows.len(),
            g = esc(group)
        );
        for &i in rows {
            let r = &view.rows[i];
            let divergent = r.divergent();
            let agree: Vec<String> = r.agree.iter().map(|g| g.map(|g| g.to_string()).unwrap_or_default()).collect();
            let _ = write!(
                o,
                "<tr class=\"row\" data-id=\"{}\" data-tags=\"{}\" data-agree=\"{}\" data-fail=\"{}\"><th class=\"case\"><a href=\"#case={}\">{}</a></th><td>{}</td><td>{}</td>",
                esc(r.id),
                esc(&r.tags.join(" ")),
                agree.join(","),
                u8::from(r.failing()),
                esc(r.id),
                esc(r.id),
                esc(&r.step_label),
                esc(&r.expected)
            );
            for e in 0..n {
                match r.cells[e] {
                    None => {
                        let _ = write!(o, "<td class=\"e{e}\"></td>");
                    }
                    Some(c) => {
                        let title = r.message(e).map(|m| format!(" title=\"{}\"", esc(m))).unwrap_or_default();
                        let letter = match r.agree[e] {
                            Some(g) if divergent => format!(" <sup>{}</sup>", group_letter(g)),
                            _ => String::new(),
                        };
                        let _ = write!(
                            o,
                            "<td class=\"e{e} {}\"{title}>{} {}{letter}</td>",
                            verdict_class(c.verdict),
                            mark(c.verdict),
                            esc(&r.value(e))
                        );
                    }
                }
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</tbody>\n");
    }
    o.push_str("</table>\n</div>\n<div id=\"detail\" hidden></div>\n</section>\n");

    // Pairwise agreement.
    o.push_str("<section id=\"pairwise\">\n<h2>Pairwise agreement</h2>\n<p>Share of cases both engines ran with identical normalized outcomes on every step.</p>\n<div class=\"scroll\"><table class=\"pairs\"><tr><th></th>");
    engine_headers(&mut o, view);
    for a in 0..n {
        let _ = write!(o, "<tr><th>{}</th>", esc(&view.engines[a].id));
        for b in 0..n {
            match view.agreement(a, b) {
                Some(p) => {
                    let (same, both) = view.pairwise[a][b];
                    let _ = write!(
                        o,
                        "<td style=\"background:hsl({:.0},70%,85%)\" title=\"{same} of {both} cases\">{p:.0}%</td>",
                        p * 1.2
                    );
                }
                None => o.push_str("<td></td>"),
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n</section>\n");

    // Message matrix.
    o.push_str("<section id=\"messages\">\n<h2>Error messages</h2>\n<p>Each engine's verbatim text per outcome kind (first informative line; × how many steps; hover for the full text and a case).</p>\n<div class=\"scroll\"><table class=\"msgs\"><tr><th>outcome</th>");
    engine_headers(&mut o, view);
    for m in &view.messages {
        let _ = write!(o, "<tr><th>{}</th>", esc(&m.kind));
        for msgs in &m.per_engine {
            o.push_str("<td>");
            for (text, (count, case, full)) in &msgs.texts {
                let _ = write!(o, "<div class=\"msg\" title=\"{} (e.g. {})\"><code>{}</code> ×{count}</div>", esc(full), esc(case), esc(text));
            }
            o.push_str("</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n</section>\n");

    // Limits.
    // What changed since the baseline run.
    if let Some((versions, changes)) = &view.baseline {
        o.push_str("<section id=\"changes\">\n<h2>What changed since the baseline run</h2>\n<table><tr><th>engine</th><th>baseline</th><th>this run</th></tr>");
        for (id, a, b) in versions {
            let _ = write!(o, "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", esc(id), esc(a), esc(b));
        }
        o.push_str("</table>\n");
        if changes.is_empty() {
            o.push_str("<p>No cell changed.</p>\n");
        } else {
            o.push_str("<div class=\"scroll\"><table class=\"changes\"><tr><th>change</th><th>case</th><th>engine</th><th>verdict</th><th>first difference</th></tr>\n");
            for c in changes {
                let v = |v: Option<crate::diff::Verdict>| v.map(|v| format!("{v:?}").to_lowercase()).unwrap_or_else(|| "-".into());
                let class = match c.change {
                    crate::rundiff::Change::Regressed => "v-fail",
                    crate::rundiff::Change::Improved => "v-pass",
                    _ => "",
                };
                let _ = writeln!(
                    o,
                    "<tr><td class=\"{class}\">{}</td><td><a href=\"#case={}\">{}</a></td><td>{}</td><td>{} → {}</td><td><code>{}</code></td></tr>",
                    c.change.name(),
                    esc(&c.case),
                    esc(&c.case),
                    esc(&c.engine),
                    v(c.old),
                    v(c.new),
                    esc(&c.detail)
                );
            }
            o.push_str("</table></div>\n");
        }
        o.push_str("</section>\n");
    }
    // The measured feature table.
    o.push_str("<section id=\"features\">\n<h2>Memory features, as measured</h2>\n<p>Per column, what its cells show: <b>yes</b> every deciding case passes, <b>no</b> none does, <b>partial</b> some. Derived from these results, never edited; hover for the deciding cases.</p>\n<div class=\"scroll\"><table class=\"features\"><tr><th>feature</th>");
    for e in &view.engines {
        let _ = write!(o, "<th>{}<br><small>{}</small></th>", esc(e.name.as_deref().unwrap_or(&e.id)), esc(e.version.as_deref().unwrap_or("")));
    }
    o.push_str("</tr>\n");
    for (name, cases, answers) in view.features() {
        let _ = write!(o, "<tr><th>{}</th>", esc(name));
        let title = esc(&cases.join(", "));
        for a in answers {
            let (text, class) = match a {
                super::view::Has::Yes => ("yes", "v-pass"),
                super::view::Has::No => ("no", "v-fail"),
                super::view::Has::Partial => ("partial", "v-known"),
                super::view::Has::Undecided => ("-", ""),
            };
            let link = cases.first().map(|c| format!("#case={}", esc(c))).unwrap_or_default();
            let _ = write!(o, "<td class=\"{class}\" title=\"{title}\"><a href=\"{link}\">{text}</a></td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n</section>\n");
    if let Some(atlas) = view.atlas {
        let cols = view.atlas_columns();
        let h = &atlas.host;
        let _ = write!(
            o,
            "<section id=\"atlas\">\n<h2>Limits atlas</h2>\n<p>Measured by <code>wasm-matrix probe</code> with real modules and host calls (bisection where a bound is searched) on {} · kernel {} · {} · {:.1} GiB RAM · overcommit {} · {} address bits. Hover a value for the engine's failure text one step past it.</p>\n<div class=\"scroll\"><table class=\"atlas\"><tr><th>measure</th>",
            esc(&h.os),
            esc(&h.kernel),
            esc(&h.cpu),
            h.ram_bytes as f64 / (1u64 << 30) as f64,
            esc(&h.overcommit),
            h.address_bits
        );
        for id in &cols {
            let version = atlas.engines[*id].version.as_str();
            let _ = write!(o, "<th>{}<br><small>{}</small></th>", esc(id), esc(version));
        }
        o.push_str("</tr>\n");
        for name in &atlas.present() {
            let _ = write!(o, "<tr><th>{}</th>", esc(name));
            for id in &cols {
                match atlas.engines[*id].measures.get(*name) {
                    Some(m) => {
                        let title: Vec<&str> = [m.message.as_deref(), m.note.as_deref()].into_iter().flatten().collect();
                        let _ = write!(o, "<td title=\"{}\">{}</td>", esc(&title.join(" · ")), esc(&crate::probe::cell(m)));
                    }
                    None => o.push_str("<td></td>"),
                }
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table></div>\n</section>\n");
    }
    if !view.limits.is_empty() {
        o.push_str("<section id=\"limits\">\n<h2>Limits</h2>\n<p>Cases tagged <code>limits</code>: per engine the largest variant that succeeded (no trap, error or -1 from a grow) and the first that failed, and how.</p>\n<div class=\"scroll\"><table class=\"limits\"><tr><th>case</th><th>variants</th>");
        engine_headers(&mut o, view);
        for l in &view.limits {
            let _ = write!(o, "<tr><th>{}</th><td>{}</td>", esc(&l.base), esc(&l.variants.join(", ")));
            for (ok, fail) in &l.per_engine {
                o.push_str("<td>");
                if let Some(ok) = ok {
                    let text = if ok.is_empty() { "succeeds".to_string() } else { format!("ok up to {}", esc(ok)) };
                    let _ = write!(o, "<div class=\"v-pass\">{text}</div>");
                }
                if let Some((v, how)) = fail {
                    let at = if v.is_empty() { String::new() } else { format!(" at {}", esc(v)) };
                    let _ = write!(o, "<div class=\"v-known\">fails{at}: {}</div>", esc(how));
                }
                o.push_str("</td>");
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table></div>\n</section>\n");
    }

    // Seed claims.
    if !view.claims.is_empty() {
        o.push_str("<section id=\"claims\">\n<h2>Seed claims</h2>\n<p>Cases tagged <code>seed-claim</code>: does the claim hold on each engine? A step's <code>claim</code> says what the claim predicts; without one the claim is the case's expectation.</p>\n<div class=\"scroll\"><table class=\"claims\"><tr><th>claim</th><th>case</th>");
        engine_headers(&mut o, view);
        for c in &view.claims {
            let _ = write!(o, "<tr><td class=\"claim\">{}</td><td><a href=\"#case={}\">{}</a><br><small>{}</small></td>", esc(&c.claim), esc(c.id), esc(c.id), esc(&c.summary));
            for h in &c.per_engine {
                match h {
                    Holds::Yes => o.push_str("<td class=\"v-pass\">holds</td>"),
                    Holds::No(why) => {
                        let _ = write!(o, "<td class=\"v-fail\" title=\"{}\">does not hold</td>", esc(why));
                    }
                    Holds::Untested(why) => {
                        let _ = write!(o, "<td class=\"v-unavailable\" title=\"{}\">not tested</td>", esc(why));
                    }
                    Holds::NotRun => o.push_str("<td class=\"v-unavailable\">–</td>"),
                }
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table></div>\n</section>\n");
    }

    o.push_str("</main>\n<script type=\"application/json\" id=\"data\">");
    // No `<` at all, so nothing can end a block early (`<` only occurs
    // inside JSON strings, where `\u003c` means the same).
    let ids: serde_json::Map<String, serde_json::Value> = view.rows.iter().enumerate().map(|(i, r)| (r.id.to_string(), json!(i))).collect();
    let index = json!({ "engines": view.engines.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), "cases": ids });
    o.push_str(&index.to_string().replace('<', "\\u003c"));
    o.push_str("</script>\n");
    for (i, d) in details(view).iter().enumerate() {
        let _ = writeln!(o, "<script type=\"application/json\" id=\"case-{i}\">{}</script>", d.to_string().replace('<', "\\u003c"));
    }
    o.push_str("<script>\n");
    o.push_str(JS);
    o.push_str("</script>\n</body>\n</html>\n");
    o
}
