//! `backstop export systemd`: golden units for a config that uses every
//! mapping, and systemd's own `systemd-analyze verify` on them and on the
//! bundled examples.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Sandbox;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `backstop export systemd` with a PATH that finds Debian's programs
/// wherever the test runs.
fn export(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("-c")
        .arg(config)
        .args(["export", "systemd", "--out"])
        .arg(out)
        .args(extra)
        .env("PATH", "/usr/bin:/bin")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn verify(dir: &Path) {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e != "env"))
        .collect();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .expect("systemd-analyze (Debian package systemd) is installed by scripts/test");
    let said = String::from_utf8_lossy(&out.stderr);
    // Keys newer than this machine's systemd are ignored with a note, not refused.
    let serious: Vec<&str> = said
        .lines()
        .filter(|l| {
            !l.contains("Unknown key 'RestartSteps'")
                && !l.contains("Unknown key 'RestartMaxDelaySec'")
        })
        .collect();
    assert!(
        out.status.success() && serious.is_empty(),
        "systemd-analyze verify {}:\n{said}",
        dir.display()
    );
}

#[test]
fn every_mapping_matches_the_golden_units_and_systemd_accepts_them() {
    let golden = repo().join("crates/backstop/tests/golden/export-systemd");
    let s = Sandbox::new(&std::fs::read_to_string(golden.join("backstop.toml")).unwrap());
    let out_dir = s.path("units");
    let out = export(
        &s.config(),
        &out_dir,
        &[
            "--systemd-version",
            "254",
            "--backstop",
            "/usr/local/bin/backstop",
            "--prefix",
            "shop",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // What cannot be expressed is said, service by service.
    assert!(
        stderr.contains("warning: api: cpu_warn = 80% has no systemd equivalent"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: docs: watch is for development"),
        "{stderr}"
    );

    let sandbox = s.dir.path().canonicalize().unwrap().display().to_string();
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let bless = std::env::var_os("BLESS").is_some();
    for name in &names {
        let text = std::fs::read_to_string(out_dir.join(name))
            .unwrap()
            .replace(&sandbox, "$DIR");
        let want = golden.join(name);
        if bless {
            std::fs::write(&want, &text).unwrap();
        }
        let expected = std::fs::read_to_string(&want).unwrap_or_default();
        assert!(
            expected == text,
            "{name} differs from {} (BLESS=1 rewrites it; review the diff):\n{text}",
            want.display()
        );
    }
    let mut golden_names: Vec<String> = std::fs::read_dir(&golden)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "backstop.toml")
        .collect();
    golden_names.sort();
    assert_eq!(names, golden_names, "the files exported");

    // The secret stays out of the world-readable unit, in a 0600 file.
    let unit = std::fs::read_to_string(out_dir.join("shop-api.service")).unwrap();
    assert!(!unit.contains("s3cret-value"), "{unit}");
    let env = out_dir.join("shop-api.env");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "API_TOKEN=s3cret-value\n"
    );
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );

    verify(&out_dir);
}

#[test]
fn the_examples_export_to_units_systemd_accepts() {
    for example in ["quickstart", "full"] {
        let config = repo().join("examples").join(example).join("backstop.toml");
        let out_dir = tempfile::tempdir().unwrap();
        let out = export(&config, out_dir.path(), &[]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = out_dir.path().join(format!("{example}.target"));
        let target = std::fs::read_to_string(&target).unwrap();
        assert!(target.contains(&format!("Wants={example}-")), "{target}");
        verify(out_dir.path());
    }
}

#[test]
fn without_out_the_units_are_printed_with_a_header_each() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let out = s.stdout(&["export", "systemd", "--prefix", "p", "api"]);
    assert!(out.starts_with("### p-api.service\n"), "{out}");
    assert!(out.contains("\n### p.target\n"), "{out}");
    assert!(
        out.contains("ExecStart=/"),
        "the program is absolute: {out}"
    );
}
