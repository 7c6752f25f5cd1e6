//! The recipes of docs/recipes.md, as written there, against a real
//! PostgreSQL and Redis started by backstop: only the ports, a check's
//! interval and, for the job that calls `backstop`, the binary's path are
//! changed. The jobs are run with `backstop run-job`, as an operator would
//! try them.

mod support;

use std::time::Duration;

use support::{BIN, free_port, postgres_sandbox, postgres_services, wait_until};

const T: Duration = Duration::from_secs(60);

/// The TOML block of docs/recipes.md whose first line is `# recipe: NAME`.
fn recipe(name: &str) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/recipes.md"
    ))
    .unwrap();
    let marker = format!("# recipe: {name}\n");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no recipe {name} in docs/recipes.md"));
    let rest = &doc[start..];
    let end = rest.find("```").expect("the block's end");
    rest[..end].to_string()
}

fn psql(port: u16, db: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .env("PGPASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_backup_recipe_dumps_keeps_14_days_and_the_dump_restores_into_a_fresh_database() {
    let pg = free_port();
    let services = postgres_services(pg);
    let jobs = recipe("backup").replace("\"5432\"", &format!("\"{pg}\""));
    let vacuum = recipe("vacuum").replace("--port=5432", &format!("--port={pg}"));
    let s = postgres_sandbox(&format!("{services}\n{jobs}\n{vacuum}"));
    s.write(".env.backup", "PGPASSWORD=s3cret\n");
    std::fs::create_dir(s.path("backups")).unwrap();
    // A dump from three weeks ago: the retention removes it.
    s.write("backups/app-20200101T020000.dump", "old");
    let touched = std::process::Command::new("touch")
        .args(["-d", "21 days ago"])
        .arg(s.path("backups/app-20200101T020000.dump"))
        .status()
        .unwrap();
    assert!(touched.success());
    let _daemon = s.up();
    s.wait_state("postgres", "running", T);
    wait_until("postgres to be healthy", T, || {
        (s.service("postgres")["health"] == "healthy").then_some(())
    });
    psql(pg, "postgres", "CREATE DATABASE app");
    psql(
        pg,
        "app",
        "CREATE TABLE orders (id serial primary key, email text); INSERT INTO orders (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 250) g",
    );

    let backup = s.run(&["run-job", "backup"]);
    let said = String::from_utf8_lossy(&backup.stdout);
    assert!(backup.status.success(), "{said}\n{}", s.daemon_output());
    assert!(said.starts_with("job:backup: succeeded in "), "{said}");
    let dumps: Vec<String> = std::fs::read_dir(s.path("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dumps.len(),
        1,
        "the old dump is gone, the new one is there: {dumps:?}"
    );
    assert!(
        dumps[0].starts_with("app-")
            && std::path::Path::new(&dumps[0])
                .extension()
                .is_some_and(|e| e == "dump")
    );

    let drill = s.run(&["run-job", "restore-drill"]);
    let said = String::from_utf8_lossy(&drill.stdout);
    assert!(drill.status.success(), "{said}");
    assert!(
        said.contains(&format!("backups/{} reads back", dumps[0])),
        "{said}"
    );

    // The restore of docs/recipes.md, into a fresh database.
    psql(pg, "postgres", "CREATE DATABASE app_restored");
    let restored = std::process::Command::new("pg_restore")
        .args(["-h", "127.0.0.1", "-p", &pg.to_string(), "-U", "postgres"])
        .args(["--dbname=app_restored", "--no-owner"])
        .arg(s.path(&format!("backups/{}", dumps[0])))
        .env("PGPASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        psql(pg, "app_restored", "SELECT count(*) FROM orders"),
        "250"
    );
    assert_eq!(
        psql(pg, "app_restored", "SELECT email FROM orders WHERE id = 7"),
        "user7@example.com"
    );

    let vacuum = s.run(&["run-job", "vacuum"]);
    let said = String::from_utf8_lossy(&vacuum.stdout);
    assert!(vacuum.status.success(), "{said}");
    assert!(said.contains("vacuuming database \"app\""), "{said}");

    // A dump of a database that is not there fails, with pg_dump's own words.
    psql(pg, "postgres", "DROP DATABASE app");
    let failed = s.run(&["run-job", "backup"]);
    let said = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{said}");
    assert!(said.contains("database \"app\" does not exist"), "{said}");
    // The password from the env file is in nothing backstop shows.
    let events = s.stdout(&["events", "-n", "500"]);
    assert!(!events.contains("s3cret"), "{events}");
}

#[test]
fn the_redis_recipe_snapshots_and_its_check_sees_the_save() {
    let rd = free_port();
    let redis_block = recipe("redis")
        .replace("6379", &rd.to_string())
        .replace("interval = \"30s\"", "interval = \"200ms\"");
    let s = support::Sandbox::new(&format!(
        r#"
[services.redis]
command = ["redis-server", "--port", "{rd}", "--bind", "127.0.0.1", "--requirepass", "r3dis", "--dir", ".", "--dbfilename", "dump.rdb", "--appendonly", "no"]

{redis_block}
"#
    ));
    s.write(".env.redis", "REDIS_PASSWORD=r3dis\n");
    let _daemon = s.up();
    s.wait_state("redis", "running", T);
    let check = wait_until("the cache check to pass", T, || {
        let c = s.status()["checks"][0].clone();
        (c["state"] == "passing").then_some(c)
    });
    assert_eq!(check["name"], "cache");
    let snap = s.run(&["run-job", "redis-snapshot"]);
    assert!(
        snap.status.success(),
        "{}",
        String::from_utf8_lossy(&snap.stdout)
    );
    wait_until("the snapshot on disk", T, || {
        s.path("dump.rdb").exists().then_some(())
    });
    // A wrong password makes the run fail.
    s.write(".env.redis", "REDIS_PASSWORD=wrong\n");
    let bad = s.run(&["run-job", "redis-snapshot"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn the_rotation_recipe_writes_a_new_secret_and_restarts_what_reads_it() {
    let block = recipe("rotate")
        .replace(
            "\"python3 -m app\"",
            r#"["sh", "-c", "echo \"$API_SECRET\" > seen; exec sleep 1000"]"#,
        )
        .replace("&& backstop restart api", &format!("&& {BIN} restart api"));
    let s = support::Sandbox::new(&block);
    s.write(".env", "API_SECRET=first-secret-value\n");
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    let before = s.service("api")["pid"].as_u64().unwrap();
    wait_until("the first secret to be seen", T, || {
        (std::fs::read_to_string(s.path("seen")).ok()?.trim() == "first-secret-value").then_some(())
    });
    let rotated = s.run(&["run-job", "rotate-secret"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stdout)
    );
    let new = std::fs::read_to_string(s.path(".env")).unwrap();
    let secret = new.trim().strip_prefix("API_SECRET=").unwrap().to_string();
    assert_eq!(secret.len(), 64, "{new}");
    wait_until("api to run with the new secret", T, || {
        (std::fs::read_to_string(s.path("seen")).ok()?.trim() == secret).then_some(())
    });
    let after = s.wait_state("api", "running", T)["pid"].as_u64().unwrap();
    assert_ne!(before, after, "api was restarted");
    // Neither secret is shown by backstop.
    let events = s.stdout(&["events", "-n", "500"]);
    assert!(!events.contains("first-secret-value"), "{events}");
    let status = s.stdout(&["status", "--json", "api"]);
    assert!(!status.contains(&secret), "{status}");
}
