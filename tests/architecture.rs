//! The rule of the house, checked: a module imports only modules below it in the pipeline
//! order (bottom layer → data → models → train → infer → explain → bench → report), so there
//! is no upward import and no cycle between stages. See docs/architecture.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Modules from the bottom up. Files of one module use each other freely; across modules, a
/// module uses only modules earlier in this list.
const ORDER: &[&str] = &[
    "error", "fsio", "cpu", "progress", "table", "stats", "plot", // bottom layer
    "data", "models", "train", "infer", "explain", "bench", "search", "monitor",
    "report", // the pipeline
    "prelude", "lib", // the faces
];

fn rank(module: &str) -> usize {
    ORDER
        .iter()
        .position(|m| *m == module)
        .unwrap_or_else(|| panic!("module {module} is not placed in ORDER (tests/architecture.rs)"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The stage a file of `src/` belongs to (`src/data/corpus.rs` → `data`, `src/stats/mod.rs`
/// → `stats`, `src/lib.rs` → `lib`); `None` for the binary.
fn stage_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .to_string();
    if first == "bin" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// Stages a file refers to through `crate::<stage>` in code (comments and doc links skipped).
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = match code.find("//") {
            Some(i) => &code[..i],
            None => code,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::{Error, Result}` and `crate::Result` are the bottom layer's error module
            if name.is_empty() || name.chars().next().unwrap().is_uppercase() {
                out.insert("error".to_string());
            } else {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn no_module_imports_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for f in &files {
        let Some(stage) = stage_of(&src, f) else {
            continue;
        };
        let r = rank(&stage);
        let text = std::fs::read_to_string(f).unwrap();
        for used in uses(&text) {
            checked += 1;
            if used != stage && rank(&used) > r {
                violations.push(format!(
                    "{} ({stage}) uses crate::{used}",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "the scan found only {checked} imports; is it reading src/?"
    );
    assert!(
        violations.is_empty(),
        "imports against the pipeline order:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_upward_imports() {
    // The check above cannot pass vacuously: an upward import in a sample is found.
    let sample =
        "use crate::bench::Task; // fine in a comment: crate::report\nuse crate::{Error, Result};";
    let u = uses(sample);
    assert!(u.contains("bench") && u.contains("error") && !u.contains("report"));
    assert!(rank("bench") > rank("data"));
}
