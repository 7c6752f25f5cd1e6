//! Golden tests of config error messages: the exact text an operator sees.
//!
//! Each `tests/golden/config/NAME.toml` is validated; stderr must equal
//! `NAME.stderr`. Run with `BLESS=1` to rewrite the expected files after an
//! intended change, then read the diff.

mod support;

use std::path::Path;
use std::process::Command;

#[test]
fn config_errors_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/config");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "golden cases missing");
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let out = Command::new(support::BIN)
            .args(["-c", name, "validate"])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: invalid config exits 2");
        assert!(out.stdout.is_empty(), "{name}: errors go to stderr");
        let actual = String::from_utf8(out.stderr).unwrap();
        let expected_path = case.with_extension("stderr");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!("── {name}: expected\n{expected}\n── got\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_config_exits_0_and_names_the_services() {
    let s = support::Sandbox::new(
        "[services.a]\ncommand = \"true\"\n[services.b]\ncommand = [\"true\"]\n",
    );
    let out = s.run(&["validate"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.ends_with("is valid: 2 services (a, b)\n"),
        "{stdout}"
    );
}

#[test]
fn validate_json_reports_line_and_column() {
    let s = support::Sandbox::new("[services.a]\ncomand = \"true\"\n");
    let out = s.run(&["validate", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let unknown = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"] == "unknown key `comand` in service `a`")
        .expect("unknown key reported");
    assert_eq!(
        (unknown["line"].as_u64(), unknown["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(unknown["help"], "did you mean `command`?");
}

#[test]
fn init_writes_a_config_that_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(support::BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    assert!(run(&["validate"]).status.success());
    let again = run(&["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists; use --force"));
}

#[test]
fn missing_config_file_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(support::BIN)
        .args(["validate"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "no backstop.toml in {} or any directory above it",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("create one with `backstop init`"),
        "{stderr}"
    );
}

#[test]
fn every_bundled_example_validates() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let config = entry.unwrap().path().join("backstop.toml");
        if !config.exists() {
            continue;
        }
        seen += 1;
        let out = Command::new(support::BIN)
            .arg("-c")
            .arg(&config)
            .arg("validate")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            config.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(seen >= 2, "examples/quickstart and examples/full");
}

#[test]
fn warnings_name_the_file_as_given_like_errors_do() {
    let s =
        support::Sandbox::new("[services.api]\ncommand = \"true\"\nenv_file = \"missing.env\"\n");
    let out = Command::new(support::BIN)
        .args(["-c", "backstop.toml", "validate"])
        .current_dir(s.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "a warning only: {out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(" --> backstop.toml:3:"), "{err}");
}

/// Without `-c`, the config is `backstop.toml` here or in the nearest
/// parent directory (as cargo and git look); none at all is a usage error
/// that says where it looked, not "no daemon running".
#[test]
fn the_config_is_found_in_a_parent_directory_and_its_absence_is_said() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("backstop.toml"),
        "[services.api]\ncommand = \"sleep 1\"\n",
    )
    .unwrap();
    let deep = dir.path().join("src/app");
    std::fs::create_dir_all(&deep).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("validate")
        .current_dir(&deep)
        .env_remove("BACKSTOP_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("{}/backstop.toml is valid", dir.path().display())),
        "{said}"
    );
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("status")
        .current_dir(empty.path())
        .env_remove("BACKSTOP_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("no backstop.toml in ") && said.contains("or any directory above it"),
        "{said}"
    );
}

/// Shell completions and the man page need no config, and are what the
/// shells and `man` accept.
#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("BACKSTOP_CONFIG")
            .output()
            .unwrap()
    };
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = dir.path().join("backstop.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let parsed = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(parsed.success(), "bash -n rejects the completion script");
    let text = String::from_utf8_lossy(&bash.stdout);
    assert!(
        text.contains("complete -F") && text.contains("diagnose"),
        "{text}"
    );
    for shell in ["zsh", "fish"] {
        assert!(run(&["completions", shell]).status.success(), "{shell}");
    }
    let man = run(&["man"]);
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.starts_with(".ie \\n(.g") || page.contains(".TH backstop"),
        "{page}"
    );
    assert!(page.contains("diagnose"), "{page}");
}

/// bash completes service names from the config, honouring `-c`, and the
/// usual subcommands and options elsewhere.
#[test]
fn bash_completes_service_names_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("backstop.toml"),
        "[services.api]\ncommand = \"sleep 1\"\n[services.worker]\ncommand = \"sleep 1\"\ninstances = 2\n",
    )
    .unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[services.billing]\ncommand = \"sleep 1\"\n").unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_backstop"))
        .parent()
        .unwrap()
        .to_path_buf();
    let script = std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(["completions", "bash"])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.path().join("backstop.bash"), &script).unwrap();
    // What bash offers for the words typed so far.
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let probe = format!(
            "source ./backstop.bash\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n_backstop_services backstop '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            words.last().unwrap(),
            words[words.len().saturating_sub(2)],
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(probe)
            .current_dir(dir.path())
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env_remove("BACKSTOP_CONFIG")
            .output()
            .unwrap();
        let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        got.sort();
        got
    };
    assert_eq!(
        complete("backstop restart "),
        ["api", "worker", "worker.1", "worker.2"]
    );
    assert_eq!(
        complete("backstop logs wo"),
        ["worker", "worker.1", "worker.2"]
    );
    assert_eq!(
        complete(&format!("backstop -c {} stop b", other.display())),
        ["billing"]
    );
    // Not a service position: the subcommands, from clap's own completion.
    assert!(complete("backstop rel").contains(&"reload".to_string()));
}
