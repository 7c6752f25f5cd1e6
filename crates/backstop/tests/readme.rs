//! Every shell command of the README (and of the docs' examples) works
//! when pasted, in order, after the two set-up commands: the blocks are extracted and run by bash in a copy
//! of the examples (a git repository, as a clone is), with `backstop` and
//! `cargo run … --` both meaning the binary under test (`cargo install`
//! has nothing left to do: the binary is on PATH).
//!
//! A command must exit 0, unless its own comment names the exit codes it
//! may have ("exits 1 after 5 quick restarts", "exit 0 healthy, 1
//! degraded, 2 unhealthy"). A foreground `up` runs in the background, as
//! the reader's other terminal; `logs -f` is cut after a few seconds.
//! The block that runs the tests themselves (`scripts/test`) is skipped.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

static EXIT_CODES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bexits? ((?:\d(?:,? (?:or )?|[ ,a-z]*?(?:, |$))?)+)").unwrap());

/// The README's ```sh blocks, in order, each as its lines.
fn shell_blocks(readme: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```sh") => current = Some(Vec::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(b), _) => b.push(line.to_string()),
            (None, _) => {}
        }
    }
    blocks
}

/// The command and its comment: `cmd   # comment` (a `#` after two spaces).
fn split_comment(line: &str) -> (&str, &str) {
    match line.find("  #") {
        Some(i) => (
            line[..i].trim(),
            line[i..].trim_start().trim_start_matches('#').trim(),
        ),
        None => (line.trim(), ""),
    }
}

/// The exit codes a command may have: 0, or those its comment names.
fn allowed(comment: &str) -> Vec<i32> {
    let mut codes: Vec<i32> = EXIT_CODES
        .captures_iter(comment)
        .flat_map(|c| {
            c[1].split(|ch: char| !ch.is_ascii_digit())
                .filter_map(|d| d.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    if codes.is_empty() {
        codes.push(0);
    }
    codes
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == ".backstop" {
            continue;
        }
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn sh(dir: &Path, script: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
}

/// Stops whatever daemons the README started, whatever happened.
struct StopAll(Vec<PathBuf>);

impl Drop for StopAll {
    fn drop(&mut self) {
        for config in &self.0 {
            let _ = Command::new(env!("CARGO_BIN_EXE_backstop"))
                .arg("-c")
                .arg(config)
                .arg("down")
                .output();
            if let Ok(loaded) = backstop_config::load(config) {
                support::kill_recorded(&loaded.config.daemon.state_dir);
            }
        }
    }
}

#[test]
fn every_readme_shell_command_works_when_pasted() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let root = tempfile::Builder::new()
        .prefix("bsreadme")
        .tempdir_in("/tmp")
        .unwrap();
    let (t, home, bin, try_dir) = (
        root.path(),
        root.path().join("home"),
        root.path().join("bin"),
        root.path().join("try"),
    );
    for d in [&home, &bin, &try_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    copy_dir(&repo.join("examples"), &t.join("examples"));
    sh(
        t,
        "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm examples",
    );
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_backstop"), bin.join("backstop")).unwrap();
    // `cargo run [-q] --release -- ARGS` is the binary under test.
    std::fs::write(
        bin.join("cargo"),
        format!(
            "#!/bin/sh\n[ \"$1\" = install ] && exit 0\n[ \"$1\" = run ] || exit 64\nwhile [ \"$1\" != -- ]; do shift; done\nshift\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_backstop")
        ),
    )
    .unwrap();
    sh(t, "chmod +x bin/cargo");
    let _stop = StopAll(vec![
        try_dir.join("backstop.toml"),
        t.join("examples/quickstart/backstop.toml"),
        t.join("examples/full/backstop.toml"),
    ]);

    // One bash for the whole README: variables (`B=…`) live on. Then the
    // docs' blocks, in the project `backstop init` made, running again
    // (they show commands on a running project, as the README leaves it).
    let mut script = String::from("exec 2>&1\n");
    let mut expected: Vec<(String, Vec<i32>)> = Vec::new();
    let mut blocks = shell_blocks(&readme);
    for doc in ["docs/diagnose.md", "docs/fix.md"] {
        let text = std::fs::read_to_string(repo.join(doc)).unwrap();
        for mut block in shell_blocks(&text) {
            // The corpus's own test command is the test suite, not a step.
            block.retain(|l| !l.trim_start().starts_with("cargo test"));
            if block.is_empty() {
                continue;
            }
            block.insert(
                0,
                "backstop init --force  # (the docs' project)".to_string(),
            );
            block.insert(1, "backstop up -d".to_string());
            block.push("backstop down".to_string());
            blocks.push(block);
        }
    }
    for block in blocks {
        if block.iter().any(|l| l.trim() == "scripts/test") {
            continue;
        }
        let dir = if block.iter().any(|l| l.contains("backstop init")) {
            &try_dir
        } else {
            &t.to_path_buf()
        };
        let _ = writeln!(script, "cd '{}'", dir.display());
        for line in &block {
            let (cmd, comment) = split_comment(line);
            if cmd.is_empty() || cmd.starts_with('#') {
                continue;
            }
            let n = expected.len();
            let mut codes = allowed(comment);
            let run = if cmd.ends_with(" up") {
                // The reader's other terminal: in the background, until it answers.
                let status = format!("{} status", cmd.trim_end_matches(" up"));
                // Up once it answers (exit 3: nothing answers yet).
                format!(
                    "({cmd}) >/dev/null 2>&1 &\nfor i in $(seq 300); do {status} >/dev/null 2>&1; [ $? -ne 3 ] && break; sleep 0.1; done; {status} >/dev/null 2>&1; [ $? -ne 3 ]"
                )
            } else if cmd.contains(" -f") && cmd.contains("logs") {
                codes.push(124);
                format!("timeout 3 {cmd}")
            } else {
                cmd.to_string()
            };
            let _ = write!(
                script,
                "echo '@@begin {n}'\necho \"$(date +%T) {n}\" >> {progress}\n{run} </dev/null\necho \"@@end {n} $?\"\n",
                progress = t.join("progress").display()
            );
            expected.push((cmd.to_string(), codes));
        }
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("PATH", path)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("BACKSTOP_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut seen = 0;
    for (n, (cmd, codes)) in expected.iter().enumerate() {
        let begin = format!("@@begin {n}\n");
        let start = text
            .find(&begin)
            .unwrap_or_else(|| panic!("`{cmd}` never ran:\n{text}"));
        let rest = &text[start + begin.len()..];
        let end = rest
            .find(&format!("@@end {n} "))
            .unwrap_or_else(|| panic!("`{cmd}` never ended:\n{rest}"));
        let output = &rest[..end];
        let rc: i32 = rest[end..]
            .split_whitespace()
            .nth(2)
            .and_then(|c| c.parse().ok())
            .unwrap();
        assert!(
            codes.contains(&rc),
            "README command `{cmd}` exited {rc} (expected one of {codes:?}):\n{output}\n\nthe whole run:\n{}",
            &text[..start]
        );
        seen += 1;
    }
    assert!(seen > 20, "only {seen} commands found in the README");
}
