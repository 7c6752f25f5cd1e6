//! The environment a service starts with.
//!
//! Layers, later wins: backstop's own environment, then the service's
//! `env_file` (dotenv syntax, read at every start so an edited file takes
//! effect on the next restart), then the `env` table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::ServiceConfig;

/// An env file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// The file does not exist or cannot be opened.
    #[error("cannot read env file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error, e.g. "No such file or directory".
        reason: String,
    },
    /// A line is not `KEY=value`.
    #[error("env file {} is not valid dotenv syntax: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

/// Reads a dotenv file into ordered pairs. `${VAR}` references are expanded
/// against the process environment and earlier lines, as dotenv does.
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let iter = dotenvy::from_path_iter(path).map_err(|err| classify(path, &err))?;
    iter.map(|item| item.map_err(|err| classify(path, &err)))
        .collect()
}

fn classify(path: &Path, err: &dotenvy::Error) -> EnvFileError {
    match err {
        dotenvy::Error::Io(io) => EnvFileError::Unreadable {
            path: path.to_path_buf(),
            reason: io_reason(io),
        },
        other => EnvFileError::Syntax {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

/// The full environment of `service`: `inherited`, overlaid by its env file,
/// overlaid by its `env` table.
pub fn service_environment(
    service: &ServiceConfig,
    inherited: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, EnvFileError> {
    let mut env: BTreeMap<String, String> = inherited.into_iter().collect();
    if let Some(file) = &service.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(service.env.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".env");
        std::fs::write(
            &file,
            "A=from-file\nB=from-file\n# comment\nQ=\"quoted value\"\n",
        )
        .unwrap();
        let mut service = crate::parse(
            &dir.path().join("backstop.toml"),
            "[services.x]\ncommand = \"true\"\nenv_file = \".env\"\nenv = { B = \"from-table\" }\n"
                .to_string(),
        )
        .unwrap()
        .config
        .services
        .remove(0);
        service.env_file = Some(file);
        let env = service_environment(
            &service,
            [
                ("A".to_string(), "inherited".to_string()),
                ("C".to_string(), "inherited".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(env["A"], "from-file");
        assert_eq!(env["B"], "from-table");
        assert_eq!(env["C"], "inherited");
        assert_eq!(env["Q"], "quoted value");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_env_file(Path::new("/nonexistent/.env")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read env file /nonexistent/.env: no such file"
        );
    }
}
