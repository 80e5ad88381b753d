//! JUnit XML: one test suite per engine, one test case per cell.

use super::explain;
use crate::diff::Verdict;
use crate::results::ResultsDoc;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

pub fn render(doc: &ResultsDoc) -> anyhow::Result<String> {
    let mut report = Report::new("wasm-matrix");
    for engine in &doc.engines {
        let mut suite = TestSuite::new(engine.id.as_str());
        for cell in doc.cells.iter().filter(|c| c.engine == engine.id) {
            let counted = doc.cases.iter().any(|c| c.id == cell.case && c.form.counted());
            if counted && cell.verdict.ran() {
                // A script or testharness file: a test case per assertion
                // or subtest, so that CI shows which one failed.
                for s in cell.steps.iter().filter(|s| s.ok.is_some()) {
                    let status = match (s.ok, cell.verdict) {
                        (Some(true), _) | (_, Verdict::Known) => TestCaseStatus::success(),
                        _ => {
                            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                            st.set_message(format!("expected {}, got {}", s.expect.as_ref().map(|e| e.to_json().to_string()).unwrap_or_default(), super::terminal::short(s)));
                            st.set_type(cell.verdict.name());
                            if let Some(m) = s.message() {
                                st.set_description(m);
                            }
                            st
                        }
                    };
                    let mut tc = TestCase::new(format!("{} :: {}", cell.case, s.step), status);
                    tc.set_classname(format!("wasm-matrix.{}", engine.id));
                    if s.ok == Some(false) && cell.verdict == Verdict::Known {
                        tc.set_system_out(explain(cell));
                    }
                    suite.add_test_case(tc);
                }
                if cell.verdict != Verdict::Fixed {
                    continue;
                }
            }
            let status = match cell.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Known => {
                    // A listed divergence does not fail the build; it stays visible.
                    TestCaseStatus::success()
                }
                Verdict::Unavailable | Verdict::OverBudget | Verdict::Unsupported => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(explain(cell));
                    s
                }
                Verdict::Fail | Verdict::Fixed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let text = explain(cell);
                    s.set_message(text.lines().next().unwrap_or_default().to_string());
                    s.set_type(cell.verdict.name());
                    s.set_description(text);
                    s
                }
            };
            let mut tc = TestCase::new(cell.case.as_str(), status);
            tc.set_classname(format!("wasm-matrix.{}", engine.id));
            tc.set_time(Duration::from_secs_f64(cell.ms.max(0.0) / 1000.0));
            if cell.verdict == Verdict::Known {
                tc.set_system_out(explain(cell));
            }
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

/// Renders and writes the JUnit XML to `path`.
pub fn write(doc: &ResultsDoc, path: &std::path::Path) -> anyhow::Result<()> {
    let xml = render(doc)?;
    Ok(std::fs::write(path, xml)?)
}
