//! The web dashboard in a real browser: backstop runs the quickstart (on
//! free ports, with a token), and `tests/browser/dashboard.mjs` drives
//! Debian's headless Chromium through playwright-core: both services shown
//! read-only without the token, a wrong token refused, restart clicked with
//! the right one, the API killed from outside turning red then green
//! without a reload, keyboard selection, a phone's width. Screenshots are
//! kept in `target/test-artifacts/`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Sandbox, curl, free_port};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The quickstart's config on free ports, with the dashboard on TCP.
fn quickstart(api_port: u16, listen: u16) -> Sandbox {
    let example = repo().join("examples/quickstart");
    let config = std::fs::read_to_string(example.join("backstop.toml"))
        .expect("examples/quickstart/backstop.toml")
        .replace("8000", &api_port.to_string())
        .replace("127.0.0.1:9107", &format!("127.0.0.1:{listen}"));
    assert!(
        config.contains(&format!("listen = \"127.0.0.1:{listen}\"")),
        "{config}"
    );
    let s = Sandbox::new(&config);
    for file in ["app.py", "worker.py"] {
        std::fs::copy(example.join(file), s.path(file)).expect("the quickstart's programs");
    }
    s
}

#[test]
fn the_dashboard_shows_an_incident_and_its_healing_live_in_a_browser() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix {}` (scripts/test does)",
        browser_dir.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: install Debian's `chromium` (scripts/test does) or set CHROMIUM"
    );
    let (api_port, listen) = (free_port(), free_port());
    let s = quickstart(api_port, listen);
    let _daemon = s.up();
    let base = format!("http://127.0.0.1:{listen}/");
    // The quickstart's token file does not exist: the first start made it,
    // for its owner alone, and said where.
    let token_file = s.path(".backstop/token");
    let token = std::fs::read_to_string(&token_file).expect("the token file made at start");
    let token = token.trim();
    assert_eq!(token.len(), 64, "{token}");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let said = s.daemon_output();
    assert!(
        said.contains(&format!(
            "dashboard: {base} (to act from it, its token: {}",
            token_file.display()
        )),
        "{said}"
    );

    // What the browser is served: the page itself, locked to its origin.
    let (code, page) = curl(&["-sS", &base]);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<title>backstop</title>"), "{page}");
    let headers = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", &base])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout).to_lowercase();
    assert!(
        headers.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{headers}"
    );
    // The actions still need the token over TCP.
    let (code, body) = curl(&[
        "-sS",
        "-X",
        "POST",
        &format!("{base}api/v1/services/api/restart"),
    ]);
    assert_eq!(code, 401, "{body}");

    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let out = Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .current_dir(&browser_dir)
        .env("BACKSTOP_URL", &base)
        .env("BACKSTOP_TOKEN", token)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node (Debian package nodejs) is installed by scripts/test");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.contains("dashboard: ok"),
        "the browser test failed (screenshot: {}/dashboard-failure.png):\n{said}\n--- daemon ---\n{}",
        artifacts.display(),
        s.daemon_output()
    );
    assert!(artifacts.join("dashboard.png").is_file());
}
