//! `vary`: a case expands into one case per combination of values, with
//! `${name}` substituted.

use super::MAX_VARY_CASES;
use crate::case::spans::Pos;
use super::super::error::LoadError;
use super::super::spans::LazySpans;
use serde_yaml::Value as Yaml;
use std::path::Path;


/// Every combination of the `vary` values, in the order written (one empty
/// combination when there is no `vary`).
pub(super) fn vary_combinations(doc: &Yaml, file: &Path, spans: &LazySpans) -> Result<Vec<Vec<(String, String)>>, LoadError> {
    let spans = spans.get();
    let Some(vary) = doc.get("vary") else { return Ok(vec![vec![]]) };
    let map = vary
        .as_mapping()
        .ok_or_else(|| LoadError::new(file, spans.find("vary"), "`vary` must map names to lists of values"))?;
    // The product is checked before it is made: three lists of 100 values
    // would be a million cases.
    let product = map.iter().map(|(_, v)| v.as_sequence().map_or(1, |s| s.len().max(1))).try_fold(1usize, |acc, n| acc.checked_mul(n));
    if product.is_none_or(|n| n > MAX_VARY_CASES) {
        let sizes: Vec<String> = map.iter().map(|(k, v)| format!("{} x{}", k.as_str().unwrap_or("?"), v.as_sequence().map_or(1, |s| s.len()))).collect();
        return Err(LoadError::new(
            file,
            spans.find("vary"),
            format!("`vary` expands into more than {MAX_VARY_CASES} cases ({}); split the sweep into several files", sizes.join(", ")),
        ));
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![vec![]];
    for (name, values) in map {
        let name = name
            .as_str()
            .ok_or_else(|| LoadError::new(file, spans.find("vary"), "`vary` names must be strings"))?
            .to_string();
        let at = spans.find(&format!("vary.{name}"));
        let values = values
            .as_sequence()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| LoadError::new(file, at, format!("`vary.{name}` must be a non-empty list of values")))?;
        let mut texts = Vec::new();
        for v in values {
            texts.push(match v {
                Yaml::Number(n) => n.to_string(),
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                _ => return Err(LoadError::new(file, at, format!("`vary.{name}` values must be numbers or strings"))),
            });
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                let name = &name;
                texts.iter().map(move |t| {
                    let mut c = c.clone();
                    c.push((name.clone(), t.clone()));
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}

pub(super) fn placeholders_as_scalars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find(['}', '\n']) {
            Some(end) if rest.as_bytes()[start + end] == b'}' => {
                out.push('0');
                rest = &rest[start + end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text with the lines of a block-style top-level `vary` entry blanked
/// (line numbers stay as they are); unchanged when `vary` is written some
/// other way.
pub(super) fn without_vary_block(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("vary:")) else { return text.to_string() };
    let top_level = |l: &str| !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']);
    let end = lines.iter().skip(start + 1).position(|l| top_level(l)).map(|n| start + 1 + n).unwrap_or(lines.len());
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        if (start..end).contains(&i) {
            out.push('\n');
        } else {
            out.push_str(l);
        }
    }
    out
}

/// Replaces `${name}` everywhere but in the `vary` block. Lines are kept, so
/// positions in the expanded text are positions in the file.
pub(super) fn substitute(text: &str, combo: &[(String, String)], file: &Path) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                LoadError::new(file, Pos { line: i + 1, col: line.len() - rest.len() + start + 1 }, "unclosed `${`")
            })?;
            let name = &after[..end];
            match combo.iter().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    let known: Vec<&str> = combo.iter().map(|(k, _)| k.as_str()).collect();
                    let col = line.len() - rest.len() + start + 1;
                    return Err(LoadError::new(
                        file,
                        Pos { line: i + 1, col },
                        if known.is_empty() {
                            format!("`${{{name}}}` is used but the case has no `vary`")
                        } else {
                            format!("`${{{name}}}` is not a `vary` name (expected one of: {})", known.join(", "))
                        },
                    ));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

