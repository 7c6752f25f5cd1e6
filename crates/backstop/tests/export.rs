//! `backstop export systemd` and `backstop export kubernetes`: golden files
//! for a config that uses every mapping, and the engines' own validators on
//! them and on the bundled examples: `systemd-analyze verify`, the
//! Kubernetes schemas through `kubernetes-validate` (PyPI, offline), and
//! `promtool check` / `promtool test rules` for the Prometheus rules.

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

/// `backstop export TARGET` with a PATH that finds Debian's programs
/// wherever the test runs.
fn export(target: &str, config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("-c")
        .arg(config)
        .args(["export", target, "--out"])
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
    // Keys newer than this machine's systemd are ignored with a note, not
    // refused; what it says of the host's own units (a Debian package's
    // `/lib/systemd/system/unicorn.service`) is not about the export.
    let ours = dir.display().to_string();
    let serious: Vec<&str> = said
        .lines()
        .filter(|l| {
            !l.contains("Unknown key 'RestartSteps'")
                && !l.contains("Unknown key 'RestartMaxDelaySec'")
                && (!l.starts_with('/') || l.starts_with(&ours))
        })
        .collect();
    assert!(
        out.status.success() && serious.is_empty(),
        "systemd-analyze verify {}:\n{said}",
        dir.display()
    );
}

/// The sandbox with the golden input and the env file it reads.
fn golden_input() -> (Sandbox, PathBuf) {
    let golden = repo().join("crates/backstop/tests/golden/export");
    let s = Sandbox::new(&std::fs::read_to_string(golden.join("backstop.toml")).unwrap());
    s.write(
        "app.env",
        "DATABASE_URL=postgres://app:db-pass@db:5432/app\nLOG_LEVEL=info\n",
    );
    (s, golden)
}

/// Compares every file in `out` with `golden` (the sandbox's path read as
/// `$DIR`), and the two lists of files; `BLESS=1` rewrites the golden files.
fn compare(out: &Path, golden: &Path, sandbox: &Sandbox) {
    let dir = sandbox
        .dir
        .path()
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    let list = |d: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let bless = std::env::var_os("BLESS").is_some();
    if bless {
        let _ = std::fs::remove_dir_all(golden);
        std::fs::create_dir_all(golden).unwrap();
    }
    let names = list(out);
    for name in &names {
        let text = std::fs::read_to_string(out.join(name))
            .unwrap()
            .replace(&dir, "$DIR");
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
    assert_eq!(names, list(golden), "the files exported");
}

#[test]
fn every_mapping_matches_the_golden_units_and_systemd_accepts_them() {
    let (s, golden) = golden_input();
    let out_dir = s.path("units");
    let out = export(
        "systemd",
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
    compare(&out_dir, &golden.join("systemd"), &s);

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

/// Runs `kubernetes-validate --strict` on the manifests (not the
/// kustomization, which has no Kubernetes schema).
fn validate_manifests(dir: &Path) {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    // As a module: pip's scripts directory need not be on PATH.
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(&files)
        .output()
        .expect("kubernetes-validate (PyPI kubernetes-validate) is installed by scripts/test");
    assert!(
        out.status.success(),
        "kubernetes-validate {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_mapping_matches_the_golden_manifests_and_the_kubernetes_schema() {
    let (s, golden) = golden_input();
    let out_dir = s.path("manifests");
    let out = export(
        "kubernetes",
        &s.config(),
        &out_dir,
        &["--prefix", "shop", "--image", "registry.example/shop:1.0"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for said in [
        "warning: migrate: others wait for it to complete: it runs as an init container",
        "warning: api: stop.signal = INT",
        "warning: cache: it runs Redis",
        "warning: api: restart = on-failure",
    ] {
        assert!(stderr.contains(said), "{said}\n{stderr}");
    }
    compare(&out_dir, &golden.join("kubernetes"), &s);

    // No value of the env file or a secret-named variable in a Deployment;
    // they are in the Secret it names, written 0600.
    let api = std::fs::read_to_string(out_dir.join("api.yaml")).unwrap();
    for secret in ["db-pass", "s3cret-value"] {
        assert!(!api.contains(secret), "{api}");
    }
    assert!(
        api.contains("secretRef:\n            name: api-env"),
        "{api}"
    );
    let secret = out_dir.join("api-env.secret.yaml");
    let text = std::fs::read_to_string(&secret).unwrap();
    assert!(
        text.contains("db-pass") && text.contains("s3cret-value"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    validate_manifests(&out_dir);
}

#[test]
fn the_runbook_is_derived_from_the_config_and_names_no_secret() {
    let (s, golden) = golden_input();
    let out_dir = s.path("runbook");
    let out = export("runbook", &s.config(), &out_dir, &["--name", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    compare(&out_dir, &golden.join("runbook"), &s);
    let text = std::fs::read_to_string(out_dir.join("RUNBOOK.md")).unwrap();
    for secret in ["s3cret-value", "db-pass", "SECRET-HOOK", "cache-pass"] {
        assert!(!text.contains(secret), "{secret} in the runbook");
    }
    // The start order puts every service after what it depends on.
    let order: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("## Start order"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.split_once(". ").filter(|(n, _)| n.parse::<u32>().is_ok()))
        .map(|(_, name)| name)
        .collect();
    let at = |n: &str| {
        order
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n}: {order:?}"))
    };
    assert!(
        at("migrate") < at("api") && at("cache") < at("api") && at("api") < at("worker"),
        "{order:?}"
    );
}

/// `promtool ARGS…`, which must succeed.
fn promtool(args: &[&std::ffi::OsStr]) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool (Debian package prometheus) is installed by scripts/test");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_prometheus_rules_match_the_golden_files_and_fire_as_backstops_alerts_do() {
    let (s, golden) = golden_input();
    let out_dir = s.path("prometheus");
    let out = export(
        "prometheus",
        &s.config(),
        &out_dir,
        &["--host", "h1:9107", "--host", "h2:9107"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("has no `[daemon] listen`"), "{stderr}");
    // The disk rule names the state directory's filesystem, which depends
    // on the machine: compared apart from the rest.
    let rules_path = out_dir.join("backstop-rules.yml");
    let rules = std::fs::read_to_string(&rules_path).unwrap();
    let mount = rules
        .split("mountpoint=\\\"")
        .nth(1)
        .and_then(|r| r.split("\\\"").next())
        .expect("the disk rule names a mount point")
        .to_string();
    assert!(s.dir.path().starts_with(&mount), "{mount}");
    std::fs::write(
        &rules_path,
        rules.replace(
            &format!("mountpoint=\\\"{mount}\\\""),
            "mountpoint=\\\"MOUNT\\\"",
        ),
    )
    .unwrap();
    compare(&out_dir, &golden.join("prometheus"), &s);
    std::fs::write(&rules_path, &rules).unwrap();

    let os = |p: &Path| p.as_os_str().to_owned();
    promtool(&["check".as_ref(), "rules".as_ref(), &os(&rules_path)]);
    promtool(&[
        "check".as_ref(),
        "config".as_ref(),
        &os(&out_dir.join("prometheus.yml")),
    ]);
    // Unit tests with series: each rule fires as backstop's own alert would.
    let tests = out_dir.join("rules.test.yml");
    std::fs::copy(
        repo().join("crates/backstop/tests/fixtures/prometheus-rules.test.yml"),
        &tests,
    )
    .unwrap();
    promtool(&["test".as_ref(), "rules".as_ref(), &os(&tests)]);
}

#[test]
fn the_examples_export_to_what_systemd_kubernetes_and_prometheus_accept() {
    for example in ["quickstart", "full"] {
        let config = repo().join("examples").join(example).join("backstop.toml");
        let units = tempfile::tempdir().unwrap();
        let out = export("systemd", &config, units.path(), &[]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = units.path().join(format!("{example}.target"));
        let target = std::fs::read_to_string(&target).unwrap();
        assert!(target.contains(&format!("Wants={example}-")), "{target}");
        verify(units.path());

        let manifests = tempfile::tempdir().unwrap();
        let out = export("kubernetes", &config, manifests.path(), &[]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(manifests.path().join("api.yaml").is_file());
        validate_manifests(manifests.path());

        let prometheus = tempfile::tempdir().unwrap();
        let out = export("prometheus", &config, prometheus.path(), &[]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        promtool(&[
            "check".as_ref(),
            "config".as_ref(),
            prometheus.path().join("prometheus.yml").as_os_str(),
        ]);
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
