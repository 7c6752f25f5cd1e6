//! `backstop export`: the same `backstop.toml` written for the engines
//! people already run when one machine is no longer enough. Each exporter
//! is a pure function from the loaded config to files and warnings
//! ([`Export`]); this module writes them, or prints them, and says the
//! warnings on stderr.

pub(crate) mod kubernetes;
pub(crate) mod prometheus;
mod runbook;
mod schedule;
pub(crate) mod systemd;
mod yaml;

use std::path::Path;

use crate::cli::{ExportKubernetesArgs, ExportPrometheusArgs, ExportSystemdArgs};
use crate::context::load_config;
use crate::exit::{CmdResult, Code, Exit};

/// What an exporter made.
#[derive(Debug, Default)]
pub(crate) struct Export {
    /// File name and content, in order.
    pub(crate) files: Vec<(String, String)>,
    /// What could not be expressed, one line each (also a comment in the files).
    pub(crate) warnings: Vec<String>,
}

/// `raw` as a unit or object name: lower-case ASCII letters, digits and
/// `-` (RFC 1123), the other characters turned to `-`, none at the ends.
pub(crate) fn object_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.trim_matches('-').to_string()
}

/// The config's directory name as an [`object_name`] (`backstop` when
/// nothing of it is left).
pub(crate) fn project_name(config: &backstop_config::Config) -> String {
    let raw = config
        .base_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = object_name(&raw);
    if name.is_empty() {
        "backstop".to_string()
    } else {
        name
    }
}

/// `backstop export systemd`.
pub(crate) fn systemd_command(config_path: &Path, args: &ExportSystemdArgs) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = loaded.config;
    let services = if args.services.is_empty() {
        Vec::new()
    } else {
        crate::context::named_services(&config, &args.services)?
    };
    let backstop = match &args.backstop {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| {
                Exit::new(
                    Code::Failed,
                    format!("cannot find this backstop binary: {e}"),
                )
            })?,
    };
    let options = systemd::Options {
        prefix: args.prefix.clone().unwrap_or_else(|| project_name(&config)),
        systemd_version: args
            .systemd_version
            .or_else(systemd::local_version)
            .unwrap_or(systemd::RESTART_STEPS_SINCE),
        backstop,
        only: services,
    };
    let export = systemd::export(&config, &options, &systemd::which_in_path);
    finish(&export, args.out.as_deref())
}

/// `backstop export kubernetes`.
pub(crate) fn kubernetes_command(config_path: &Path, args: &ExportKubernetesArgs) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = loaded.config;
    let only = if args.services.is_empty() {
        Vec::new()
    } else {
        // Names as declared: a copy (`api.2`) is the Deployment's replicas.
        for name in &args.services {
            if !config.declared.iter().any(|s| &s.name == name) {
                return Err(Exit::new(
                    Code::Usage,
                    format!("no service named `{name}` in {}", config_path.display()),
                ));
            }
        }
        args.services.clone()
    };
    let prefix = args.prefix.clone().unwrap_or_else(|| project_name(&config));
    let options = kubernetes::Options {
        image: args
            .image
            .clone()
            .unwrap_or_else(|| format!("{prefix}:latest")),
        prefix,
        wait_image: args.wait_image.clone(),
        only,
    };
    let export = kubernetes::export(&config, &options);
    finish(&export, args.out.as_deref())
}

/// `backstop export prometheus`.
pub(crate) fn prometheus_command(config_path: &Path, args: &ExportPrometheusArgs) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = loaded.config;
    let hosts = if args.hosts.is_empty() {
        let listen = config.daemon.listen.map_or_else(
            || "127.0.0.1:9107".to_string(),
            |a| {
                backstop_api::dashboard::url(a)
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            },
        );
        vec![listen]
    } else {
        args.hosts.clone()
    };
    let options = prometheus::Options {
        hosts,
        alertmanager: args.alertmanager.clone(),
        mountpoint: prometheus::mountpoint_of(&config.daemon.state_dir),
    };
    let export = prometheus::export(&config, &options);
    finish(&export, args.out.as_deref())
}

/// `backstop export runbook`.
pub(crate) fn runbook_command(
    config_path: &Path,
    out: Option<&Path>,
    name: Option<&str>,
) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = loaded.config;
    let name = name.map_or_else(|| project_name(&config), str::to_string);
    let export = runbook::export(&config, &name);
    finish(&export, out)
}

/// Writes the files into `out`, or prints them with a header each; the
/// warnings go to stderr either way.
fn finish(export: &Export, out: Option<&Path>) -> CmdResult {
    for w in &export.warnings {
        eprintln!("warning: {w}");
    }
    let Some(dir) = out else {
        for (i, (name, text)) in export.files.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("### {name}");
            print!("{text}");
        }
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    for (name, text) in &export.files {
        let path = dir.join(name);
        write_file(
            &path,
            text,
            Path::new(name).extension().is_some_and(|e| e == "env")
                || name.ends_with(".secret.yaml"),
        )
        .map_err(|e| {
            Exit::new(
                Code::Failed,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    println!(
        "wrote {} files to {}: {}",
        export.files.len(),
        dir.display(),
        export
            .files
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Secrets (`.env` files) are written 0600 from the start.
fn write_file(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}
