//! The compatibility report: snapshots of its layout, shards merging to the
//! same report as one run, and the page itself in headless Chromium.
//!
//! Update the snapshots after an intended layout change with
//! `WASM_MATRIX_UPDATE_SNAPSHOTS=1 cargo test --release --test report`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use wasm_matrix::diff::Verdict;
use wasm_matrix::report::view::View;
use wasm_matrix::case::TrapKind;
use wasm_matrix::results::{CaseEntry, CaseStep, CellEntry, EngineEntry, ResultsDoc, StepEntry, StepOutcome, Summary};

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasm-matrix"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("WASM_MATRIX_REQUIRE")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn small() -> ResultsDoc {
    ResultsDoc::read(&manifest("tests/fixtures/report/small.json")).unwrap()
}

fn check_snapshot(name: &str, actual: &str) {
    let path = manifest("tests/snapshots").join(name);
    if std::env::var_os("WASM_MATRIX_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(expected.lines().count().min(actual.lines().count()));
        let (e, a) = (expected.lines().nth(line).unwrap_or("<end>"), actual.lines().nth(line).unwrap_or("<end>"));
        // Around the first differing character: the page's data is one long line.
        let col = e.chars().zip(a.chars()).position(|(x, y)| x != y).unwrap_or(e.chars().count().min(a.chars().count()));
        let around = |t: &str| t.chars().skip(col.saturating_sub(60)).take(160).collect::<String>();
        panic!(
            "{} changed at line {}, column {} (expected `…{}…`, got `…{}…`); if the change is intended, run \
             WASM_MATRIX_UPDATE_SNAPSHOTS=1 cargo test --release --test report",
            path.display(),
            line + 1,
            col + 1,
            around(e),
            around(a)
        );
    }
}

#[test]
fn markdown_and_html_layout_match_their_snapshots() {
    let doc = small();
    let view = View::new(&doc);
    check_snapshot("report.md", &wasm_matrix::report::markdown::render(&view));
    // The page's markup; its inline CSS and JS are source files of their own.
    let html = wasm_matrix::report::html::render(&view)
        .replace(wasm_matrix::report::html::CSS, "/* src/report/report.css */\n")
        .replace(wasm_matrix::report::html::JS, "/* src/report/report.js */\n");
    check_snapshot("report.html", &html);
}

#[test]
fn the_fixture_exercises_every_part_of_the_report() {
    let doc = small();
    let view = View::new(&doc);
    let md = wasm_matrix::report::markdown::render(&view);
    // Every verdict but `fixed` occurs, divergent rows exist, and every section has rows.
    for v in [Verdict::Pass, Verdict::Fail, Verdict::Known, Verdict::Unavailable] {
        assert!(doc.cells.iter().any(|c| c.verdict == v), "no {v:?} cell in the fixture");
    }
    assert!(view.rows.iter().any(|r| r.divergent()) && view.rows.iter().any(|r| !r.divergent()));
    assert!(!view.limits.is_empty() && !view.claims.is_empty() && !view.messages.is_empty());
    for heading in ["## Engines", "## Matrix", "## Pairwise agreement", "## Error messages", "## Limits", "## Seed claims", "## Unexpected divergences"] {
        assert!(md.contains(heading), "{heading} missing");
    }
    // The claim with a `claim:` step does not hold where the engine throws.
    assert!(md.contains("does not hold (grow mem by 5: error grow_failed)"), "{md}");
    // Engines agreeing on a divergent row share a letter.
    assert!(md.contains("(A)") && md.contains("(B)"));
    // A claim whose steps could not run is not judged.
    assert!(md.contains("not tested (instantiate (implicit): error invalid)"), "{md}");
}

#[test]
fn an_engine_with_two_versions_or_a_cell_with_two_results_does_not_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    let doc = small();
    wasm_matrix::results::write_json_atomically(&a, &doc).unwrap();
    let mut other = doc.clone();
    other.engines[0].version = Some("0.0.1".into());
    wasm_matrix::results::write_json_atomically(&b, &other).unwrap();
    let o = bin(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", tmp.path().join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("version 48.0.0 in") && text(&o).contains("but 0.0.1 in"), "{}", text(&o));

    let mut other = doc.clone();
    let i = other.cells.iter().position(|c| c.verdict == Verdict::Pass).unwrap();
    other.cells[i].verdict = Verdict::Fail;
    wasm_matrix::results::write_json_atomically(&b, &other).unwrap();
    let o = bin(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", tmp.path().join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains(&format!("cell {}::{} is in", doc.cells[i].case, doc.cells[i].engine)), "{}", text(&o));

    // The same file twice (identical cells) merges; timings may differ.
    let mut same = doc.clone();
    same.cells[0].ms += 5.0;
    wasm_matrix::results::write_json_atomically(&b, &same).unwrap();
    let o = bin(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", tmp.path().join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = bin(&["report", tmp.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("missing.json: cannot read"), "{}", text(&o));
}

/// REPORT.md without its run line (start time and duration differ between runs).
fn without_run_line(md: &str) -> String {
    md.lines().filter(|l| !l.starts_with("Run: ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn two_shards_merged_give_the_same_report_as_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    let engines = "wasmtime,wasmi";
    let o = bin(&["run", "cases/grow", "cases/bounds", "--engines", engines, "--out", &p("whole.json")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for k in 1..=2 {
        let o = bin(&["run", "cases/grow", "cases/bounds", "--engines", engines, "--shard", &format!("{k}/2"), "--out", &p(&format!("s{k}.json"))]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains(&format!("shard {k}/2: ")), "{}", text(&o));
    }
    let o = bin(&["report", &p("whole.json"), "--out", &p("one")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = bin(&["report", &p("s1.json"), &p("s2.json"), "--out", &p("two")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let read = |d: &str, f: &str| std::fs::read_to_string(tmp.path().join(d).join(f)).unwrap();
    assert_eq!(without_run_line(&read("one", "REPORT.md")), without_run_line(&read("two", "REPORT.md")));
    let cells = |d: &str| {
        let doc = ResultsDoc::read(&tmp.path().join(d).join("results.json")).unwrap();
        doc.cells.iter().map(CellEntry::untimed).collect::<Vec<_>>()
    };
    let one = cells("one");
    assert_eq!(one, cells("two"));
    assert_eq!(one.len(), 2 * ResultsDoc::read(&tmp.path().join("whole.json")).unwrap().cases.len());
    // The page loads nothing from the network.
    let html = read("two", "index.html");
    for pattern in ["src=\"http", "href=\"http", "url(http", "@import", "src='http", "href='http"] {
        assert!(!html.contains(pattern), "index.html references a resource: {pattern}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
}

/// A results document of `cases` x `engines` cells with a mix of outcomes
/// (about one case in seven diverging), for timing the page.
fn synthetic(cases: usize, engines: &[&str]) -> ResultsDoc {
    let mut doc = ResultsDoc {
        engines: engines.iter().map(|e| EngineEntry { id: e.to_string(), version: Some("1.0".into()), available: true, reason: None, family: None, name: None, configuration: None }).collect(),
        ..ResultsDoc::default()
    };
    let tags = ["grow", "bounds", "limits", "data", "stack"];
    for i in 0..cases {
        let id = format!("{}/case-{i:05}", tags[i % tags.len()]);
        doc.cases.push(CaseEntry {
            id: id.clone(),
            file: format!("cases/{id}.yaml"),
            form: Default::default(),
            summary: format!("synthetic case {i}"),
            tags: vec![tags[i % tags.len()].into()],
            source: None,
            wat: Some("(module (memory 1))".into()),
            features: vec![],
            steps: vec![CaseStep {
                step: "invoke grow(1)".into(),
                expect: wasm_matrix::results::Expected::Returns { returns: vec![1.into()] },
                claim: None,
                message: None,
                line: Some(3),
                grows: true,
                varies: false,
            }],
        });
        for (e, engine) in engines.iter().enumerate() {
            let diverges = i % 7 == 0 && e == 1;
            let outcome = if diverges {
                StepOutcome::Trap { trap: TrapKind::OutOfBounds, message: "RuntimeError: memory access out of bounds".into() }
            } else {
                StepOutcome::Returns { values: vec![1.into()] }
            };
            doc.cells.push(CellEntry {
                case: id.clone(),
                engine: engine.to_string(),
                verdict: if diverges { Verdict::Fail } else { Verdict::Pass },
                steps: vec![StepEntry {
                    step: "invoke grow(1)".into(),
                    ok: Some(!diverges),
                    outcome,
                    expect: Some(wasm_matrix::results::Expected::Returns { returns: vec![1.into()] }),
                    claim_ok: None,
                    ms: None,
                }],
                ms: 1.0,
                engine_ms: None,
                reason: None,
                cross_origin_isolated: None,
            });
        }
    }
    let mut summary = Summary::default();
    for c in &doc.cells {
        summary.add(c.verdict);
    }
    doc.summary = Some(summary);
    doc
}


async fn visible_rows(c: &fantoccini::Client) -> usize {
    let v = c
        .execute("return Array.from(document.querySelectorAll('tr.row')).filter(r => r.offsetParent !== null).length", vec![])
        .await
        .unwrap();
    v.as_u64().unwrap() as usize
}

async fn body_data(c: &fantoccini::Client, key: &str) -> f64 {
    let v = c.execute(&format!("return document.body.dataset.{key} || ''"), vec![]).await.unwrap();
    v.as_str().unwrap_or_default().parse().unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_filters_in_chromium() {
    use fantoccini::Locator;
    if !common::available_or_skip("chrome") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let doc = small();
    wasm_matrix::report::write_dir(&doc, tmp.path()).unwrap();
    let view = View::new(&doc);
    let divergent = view.rows.iter().filter(|r| r.divergent()).count();
    assert!(divergent > 0 && divergent < view.rows.len());

    let (session, version) = wasm_matrix::transport::browser::PlainSession::open(wasm_matrix::engine::browser::browser("chrome").unwrap()).await.unwrap();
    eprintln!("chromium {version}");
    let c = session.client();
    c.set_window_size(1400, 1000).await.unwrap();
    let url = format!("file://{}", tmp.path().join("index.html").display());
    c.goto(&url).await.unwrap();
    assert_eq!(body_data(c, "ready").await, 1.0, "the page script ran");
    // The matrix: one row per case, one column per engine, coloured cells.
    assert_eq!(visible_rows(c).await, view.rows.len());
    let headers = c.find_all(Locator::Css("#m thead th")).await.unwrap();
    let families = view.families();
    assert_eq!(headers.len(), 3 + families.len() + doc.engines.len(), "case, step, expected, a header per family, one per engine");
    // The family filter shows one family's columns, then all again.
    let (family, k) = families.iter().find(|(_, k)| *k < doc.engines.len()).expect("the fixture has two families").clone();
    let shown = |c: &fantoccini::Client| {
        let c = c.clone();
        async move {
            let js = "return Array.from(document.querySelectorAll('#m thead tr:not(.fam) th')).filter((th) => th.offsetParent !== null).length";
            c.execute(js, vec![]).await.unwrap().as_u64().unwrap() as usize
        }
    };
    let pick = format!("const s = document.getElementById('f-fam'); s.value = {family:?}; s.dispatchEvent(new Event('change'));");
    c.execute(&pick, vec![]).await.unwrap();
    assert_eq!(shown(c).await, k, "only {family}'s columns");
    c.execute("const s = document.getElementById('f-fam'); s.value = ''; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
    assert_eq!(shown(c).await, doc.engines.len());
    c.execute("history.replaceState(null, '', location.pathname)", vec![]).await.unwrap();
    let failing = c.find_all(Locator::Css("#m td.v-fail")).await.unwrap();
    assert_eq!(failing.len(), doc.cells.iter().filter(|c| c.verdict == Verdict::Fail).count());

    // The divergence filter, by clicking.
    c.find(Locator::Css("#f-div")).await.unwrap().click().await.unwrap();
    assert_eq!(visible_rows(c).await, divergent);
    let hash = c.execute("return location.hash", vec![]).await.unwrap();
    assert!(hash.as_str().unwrap().contains("div=1"), "{hash}");
    let count = c.find(Locator::Id("count")).await.unwrap().text().await.unwrap();
    assert_eq!(count, format!("{divergent} of {} cases shown", view.rows.len()));

    // Hiding every engine but one leaves no row divergent.
    for e in doc.engines.iter().skip(1) {
        c.find(Locator::Css(&format!(".f-eng[value='{}']", e.id))).await.unwrap().click().await.unwrap();
    }
    assert_eq!(visible_rows(c).await, 0);

    // The state lives in the URL: a link reopens the same view.
    let linked = c.current_url().await.unwrap();
    c.goto("about:blank").await.unwrap();
    c.goto(linked.as_str()).await.unwrap();
    assert_eq!(visible_rows(c).await, 0);
    c.goto(&format!("{url}#div=1")).await.unwrap();
    c.refresh().await.unwrap();
    assert_eq!(visible_rows(c).await, divergent);

    // Free text and tag.
    c.goto(&format!("{url}#q=seed-claims")).await.unwrap();
    c.refresh().await.unwrap();
    assert_eq!(visible_rows(c).await, view.rows.iter().filter(|r| r.id.contains("seed-claims")).count());

    // Clicking a cell shows the case: WAT, steps and each engine's message.
    c.goto(&url).await.unwrap();
    c.refresh().await.unwrap();
    let failing_row = view.rows.iter().find(|r| r.failing()).unwrap();
    c.find(Locator::Css(&format!("tr.row[data-id='{}'] td.v-fail", failing_row.id))).await.unwrap().click().await.unwrap();
    let detail = c.find(Locator::Id("detail")).await.unwrap().text().await.unwrap();
    assert!(detail.contains(failing_row.id) && detail.contains("(module"), "{detail}");
    c.find(Locator::Css("#f-div")).await.unwrap().click().await.unwrap();

    c.execute("document.getElementById('matrix').scrollIntoView()", vec![]).await.unwrap();
    let shot = c.screenshot().await.unwrap();
    // Under the checkout's target/ even when CARGO_TARGET_DIR points elsewhere.
    let path = manifest("target/report-screenshot.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, shot).unwrap();
    eprintln!("screenshot: {}", path.display());

    // Large runs: 10,000 cells (2,000 cases x 5 engines), timed by the page.
    let big = synthetic(2000, &["wasmtime", "wasmer", "wasmi", "chrome", "firefox"]);
    let dir = tmp.path().join("big");
    let start = Instant::now();
    wasm_matrix::report::write_dir(&big, &dir).unwrap();
    let write_ms = start.elapsed().as_secs_f64() * 1000.0;
    c.goto(&format!("file://{}", dir.join("index.html").display())).await.unwrap();
    // The page says when it has painted; a loaded machine takes longer, so
    // the wait is for that, not for a time.
    let mut render = f64::NAN;
    let waited = Instant::now();
    while !render.is_finite() && waited.elapsed() < std::time::Duration::from_secs(600) {
        render = body_data(c, "paintedMs").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(render.is_finite(), "the page never painted");
    assert_eq!(visible_rows(c).await, 2000);
    c.find(Locator::Css("#f-div")).await.unwrap().click().await.unwrap();
    let filter = body_data(c, "filterMs").await;
    assert_eq!(visible_rows(c).await, (0..2000).filter(|i| i % 7 == 0).count());
    eprintln!("10,000 cells: report written in {write_ms:.0} ms; page parsed, laid out and painted {render:.0} ms after navigation start; divergence filter applied in {filter:.1} ms");
    session.close().await;
}
