//! Every `toml` example in the README and docs/ is what users paste: each
//! one that is a whole table (or several) must load without an error.
//! A fragment without a `[services.…]` table gets a minimal service, so
//! that `[[remediate]]` or `[alerts]` examples are checked too.

use std::path::Path;

fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if line.trim() != "```toml" {
            continue;
        }
        let block: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| l.trim() != "```")
            .collect();
        out.push((n + 1, block.join("\n")));
    }
    out
}

/// What an example expects of its surroundings: its `${VAR}`s set (as the
/// reader's shell would have them), its `env_file`s present.
fn surroundings(block: &str, dir: &Path) {
    let mut rest = block;
    while let Some(at) = rest.find("${") {
        let inner = &rest[at + 2..];
        let end = inner.find('}').unwrap_or(0);
        let name = &inner[..end];
        if !name.contains(":-") && !name.is_empty() && std::env::var_os(name).is_none() {
            // SAFETY: this test binary has one test: no other thread reads
            // the environment meanwhile.
            unsafe { std::env::set_var(name, "example") };
        }
        rest = &inner[end..];
    }
    for line in block.lines() {
        if let Some(file) = line
            .trim()
            .strip_prefix("env_file = \"")
            .and_then(|f| f.split('"').next())
        {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(path, "").unwrap();
        }
    }
}

#[test]
fn every_toml_example_of_the_docs_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, block) in toml_blocks(&text) {
            // A fragment of a table (`limits = { … }` alone) is not a file.
            let whole = block
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .is_some_and(|l| l.starts_with('['));
            if !whole {
                continue;
            }
            // Examples of checks of `api` show only its `[[…health]]` tables.
            let declares_a_service = block.lines().any(|l| {
                let l = l.trim();
                l.starts_with("[services.") && !l.starts_with("[[")
            });
            let source = if declares_a_service {
                block.clone()
            } else {
                // A job's example waits for a `postgres` it does not declare.
                format!(
                    "[services.api]\ncommand = \"true\"\n\n[services.postgres]\ncommand = \"true\"\n\n{block}"
                )
            };
            checked += 1;
            surroundings(&source, dir.path());
            if let Err(e) = backstop_config::parse(&dir.path().join("backstop.toml"), source) {
                failures.push(format!("{}:{line}:\n{}", file.display(), e.render(false)));
            }
        }
    }
    assert!(checked > 10, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
