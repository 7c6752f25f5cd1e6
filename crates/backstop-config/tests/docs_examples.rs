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

#[test]
fn every_toml_example_of_the_docs_loads() {
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
                format!("[services.api]\ncommand = \"true\"\n\n{block}")
            };
            checked += 1;
            if let Err(e) = backstop_config::parse(Path::new("/tmp/example/backstop.toml"), source)
            {
                failures.push(format!("{}:{line}:\n{}", file.display(), e.render(false)));
            }
        }
    }
    assert!(checked > 10, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
