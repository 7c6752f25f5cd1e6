//! The environment a start gets (`08-environment.txt`): the env file, its
//! mode, every variable with its origin, values masked; loose key files flagged.

use std::collections::BTreeSet;
use std::path::Path;

use backstop_config::{Config, ServiceConfig};
use backstop_supervisor::{procs, spawn};

use super::bundle::{Bundle, Part};

/// True when a path's mode lets more than owner read/write and group read.
pub(super) fn wider_than_640(mode: u32) -> bool {
    mode & 0o777 & !0o640 != 0
}

/// `08-environment.txt`: the env file and its mode, then every variable
/// with its origin, masked; a loose env or key file is a warning.
pub(super) fn environment(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    plan: Result<&spawn::SpawnPlan, &spawn::SpawnError>,
    main_pid: Option<i32>,
) {
    use std::os::unix::fs::MetadataExt;
    let p = Part::Environment;
    let mut from_file = BTreeSet::new();
    match &service.env_file {
        None => b.line(p, "env_file: none configured"),
        Some(file) => {
            if let Ok(meta) = std::fs::metadata(file) {
                let mode = meta.mode() & 0o7777;
                b.line(
                    p,
                    format!(
                        "env_file: {} (present, mode {mode:04o}, owner uid {})",
                        file.display(),
                        meta.uid()
                    ),
                );
                if wider_than_640(mode) {
                    b.warn(p, format!("{} is readable or writable by others (mode {mode:04o}, wider than 0640): `chmod 600 {}`", file.display(), file.display()));
                }
            }
            match backstop_config::read_env_file(file) {
                Ok(pairs) => from_file.extend(pairs.into_iter().map(|(k, _)| k)),
                Err(e) => {
                    let text = e.to_string();
                    b.evidence(p, None, &format!("env_file: {text}"), &text);
                }
            }
        }
    }
    if let Some(backstop_config::TokenSource::File(path)) = &config.daemon.token {
        flag_key_file(b, path);
    }
    // The running process's own environment is the truth; without one,
    // what a start would get (inherited from this shell, not the daemon).
    let running = main_pid.and_then(procs::environ);
    let (env, title) = match (&running, &plan) {
        (Some(env), _) => (
            Some(env.clone()),
            format!("the environment of the running main process, pid {}", main_pid.unwrap_or(0)),
        ),
        (None, Ok(plan)) => (
            Some(plan.env().clone()),
            "the environment a start gets now (the inherited part from this shell, which may differ from the daemon's)".to_string(),
        ),
        (None, Err(_)) => (None, String::new()),
    };
    if let Some(env) = env {
        b.line(p, "");
        b.line(
            p,
            format!("{title}; values from the env file and secret-named values are masked:"),
        );
        for (k, v) in &env {
            let origin = if service.env.0.contains_key(k) {
                "env"
            } else if from_file.contains(k) {
                "env_file"
            } else if k == spawn::SERVICE_ENV || k == spawn::STATE_DIR_ENV {
                "set by backstop"
            } else {
                "inherited"
            };
            let shown = b.redactor.show_value(k, v, from_file.contains(k));
            b.line(p, format!("{k}={shown}    # {origin}"));
            let path = Path::new(v);
            if path.is_absolute()
                && path.is_file()
                && (backstop_diagnose::redact::is_secret_name(k)
                    || path.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("key") || x.eq_ignore_ascii_case("pem")
                    }))
            {
                flag_key_file(b, path);
            }
        }
    }
    // An env file that cannot be read was quoted above, in the same words.
    if let Err(reason) = plan
        && !matches!(reason, spawn::SpawnError::EnvFile(_))
    {
        let reason = reason.to_string();
        b.evidence(
            p,
            None,
            &format!("the service cannot be prepared for a start: {reason}"),
            &reason,
        );
    }
}

/// Warns when a key file is readable or writable by others.
pub(super) fn flag_key_file(b: &mut Bundle, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.mode() & 0o7777;
        if wider_than_640(mode) {
            b.warn(Part::Environment, format!("key file {} is readable or writable by others (mode {mode:04o}, wider than 0640): `chmod 600 {}`", path.display(), path.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_wider_than_640() {
        assert!(super::wider_than_640(0o644));
        assert!(super::wider_than_640(0o660));
        assert!(!super::wider_than_640(0o640));
        assert!(!super::wider_than_640(0o600));
    }
}
