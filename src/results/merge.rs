//! Merging results files: shards of one run, or runs of different engines.

use super::{CellEntry, ResultsDoc, Summary};
use anyhow::bail;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Merges results files (shards of one run, or runs of different engines)
/// into one document. The same cell twice is an error unless both agree on
/// everything but timings; an engine's versions must agree; a case defined
/// differently in two files is an error. The summary is recomputed; its
/// `seconds` is the longest input's (shards run side by side).
pub fn merge(inputs: Vec<(PathBuf, ResultsDoc)>) -> anyhow::Result<ResultsDoc> {
    let mut out = ResultsDoc::default();
    let mut cell_from: BTreeMap<(String, String), (usize, PathBuf)> = BTreeMap::new();
    let mut case_from: BTreeMap<String, (usize, PathBuf)> = BTreeMap::new();
    let mut engine_from: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut seconds: f64 = 0.0;
    let mut revisions: Vec<String> = Vec::new();
    for (i, (path, doc)) in inputs.into_iter().enumerate() {
        if i == 0 {
            out.tool = doc.tool.clone();
        } else if doc.tool != out.tool {
            // Outcomes, ids and normalization change between versions of
            // the tool: a merged report would compare unlike things.
            bail!(
                "{}: written by {} {}, the others by {} {} (merge results of one tool version: the tool version differs)",
                path.display(),
                doc.tool.name,
                doc.tool.version,
                out.tool.name,
                out.tool.version
            );
        }
        for e in doc.engines {
            match out.engines.iter_mut().find(|x| x.id == e.id) {
                None => {
                    engine_from.insert(e.id.clone(), path.clone());
                    out.engines.push(e);
                }
                Some(x) => {
                    if let (Some(a), Some(b)) = (&x.version, &e.version) {
                        if a != b {
                            bail!(
                                "engine {}: version {a} in {} but {b} in {} (merge results of one engine version)",
                                e.id,
                                engine_from[&e.id].display(),
                                path.display()
                            );
                        }
                    }
                    if e.available && !x.available {
                        *x = e;
                        engine_from.insert(x.id.clone(), path.clone());
                    } else if x.version.is_none() {
                        x.version = e.version;
                    }
                }
            }
        }
        for c in doc.cases {
            match case_from.get(&c.id) {
                None => {
                    case_from.insert(c.id.clone(), (out.cases.len(), path.clone()));
                    out.cases.push(c);
                }
                Some((at, first)) => {
                    if out.cases[*at] != c {
                        bail!(
                            "case {} differs between {} and {} (results of different corpora?)",
                            c.id,
                            first.display(),
                            path.display()
                        );
                    }
                }
            }
        }
        for c in doc.cells {
            let key = (c.case.clone(), c.engine.clone());
            match cell_from.get(&key) {
                None => {
                    cell_from.insert(key, (out.cells.len(), path.clone()));
                    out.cells.push(c);
                }
                Some((at, first)) => {
                    let untimed = CellEntry::untimed;
                    if untimed(&out.cells[*at]) != untimed(&c) {
                        bail!(
                            "cell {}::{} is in {} and in {} with different results",
                            c.case,
                            c.engine,
                            first.display(),
                            path.display()
                        );
                    }
                }
            }
        }
        for e in doc.load_errors {
            if !out.load_errors.contains(&e) {
                out.load_errors.push(e);
            }
        }
        out.started = match (out.started.take(), doc.started) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        seconds = seconds.max(doc.summary.map(|s| s.seconds).unwrap_or(0.0));
        out.interrupted |= doc.interrupted;
        out.partial |= doc.partial;
        if let Some(corpus) = doc.corpus {
            if let Some(r) = &corpus.revision {
                if !revisions.contains(r) {
                    revisions.push(r.clone());
                }
            }
            out.corpus.get_or_insert(corpus);
        }
    }
    if let Some(c) = &mut out.corpus {
        c.revision = (!revisions.is_empty()).then(|| revisions.join(" + "));
    }
    let mut summary = Summary { seconds, ..Summary::default() };
    for c in &out.cells {
        summary.add_cell(c);
    }
    out.summary = Some(summary);
    out.cases.sort_by(|a, b| a.id.cmp(&b.id));
    out.sort_cells();
    Ok(out)
}

impl ResultsDoc {
    /// Cells by case id, then in the order of `engines`.
    pub fn sort_cells(&mut self) {
        let engine_order: Vec<String> = self.engines.iter().map(|e| e.id.clone()).collect();
        let pos = |e: &str| engine_order.iter().position(|x| x == e).unwrap_or(usize::MAX);
        self.cells.sort_by(|a, b| a.case.cmp(&b.case).then(pos(&a.engine).cmp(&pos(&b.engine))));
    }
}
