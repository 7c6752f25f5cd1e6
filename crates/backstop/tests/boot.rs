//! `backstop boot install|uninstall`: the systemd unit that starts the
//! daemon at boot, verified by systemd's own `systemd-analyze verify`.

mod support;

use support::Sandbox;

const CONFIG: &str = r#"
[services.api]
command = "sleep 1000"
stop = { timeout = "5s" }

[services.worker]
command = "sleep 1000"
stop = { timeout = "10s" }
"#;

#[test]
fn the_unit_runs_this_config_in_the_foreground_and_systemd_accepts_it() {
    let s = Sandbox::new(CONFIG);
    let unit = s.stdout(&["boot", "install", "--print"]);
    let config = s.config().canonicalize().unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_backstop"))
        .canonicalize()
        .unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} -c {} up\n",
            exe.display(),
            config.display()
        )),
        "{unit}"
    );
    // backstop alone gets SIGTERM and stops its services in order, within
    // their stop timeouts (5 + 2, 10 + 2, and 30 s to spare).
    assert!(unit.contains("KillMode=mixed\n"), "{unit}");
    assert!(unit.contains("TimeoutStopSec=49\n"), "{unit}");
    assert!(
        unit.contains("ExecReload=/bin/kill -HUP $MAINPID\n"),
        "{unit}"
    );

    // Written where asked, it passes systemd's own checks.
    let units = s.path("units");
    let out = s.stdout(&[
        "boot",
        "install",
        "--unit-dir",
        units.to_str().unwrap(),
        "--no-enable",
    ]);
    let written: Vec<_> = std::fs::read_dir(&units)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(written.len(), 1, "{out}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("backstop-") && name.ends_with(".service"),
        "{name}"
    );
    assert!(out.contains(&format!("enable --now {name}")), "{out}");
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&written[0])
        .output()
        .expect("systemd-analyze (Debian package systemd) is installed by scripts/test");
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Uninstall removes it; a second time there is nothing to remove.
    let args = [
        "boot",
        "uninstall",
        "--unit-dir",
        units.to_str().unwrap(),
        "--no-enable",
    ];
    s.stdout(&args);
    assert!(!written[0].exists());
    let again = s.run(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no unit"));
}
