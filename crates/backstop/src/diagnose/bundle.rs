//! The bundle: numbered text files, and the evidence lines that point into
//! them by file and line number. Lines are kept as collected and redacted
//! when written: a secret learned late (a port holder's `--password`) is
//! masked in lines collected before it too.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use backstop_diagnose::Evidence;
use backstop_diagnose::redact::Redactor;

/// The files of a bundle, in their order.
pub(crate) const FILES: [&str; 12] = [
    "01-summary.md",
    "02-status.txt",
    "03-processes.txt",
    "04-ports.txt",
    "05-logs.txt",
    "06-errors.txt",
    "07-exits.txt",
    "08-environment.txt",
    "09-preflight.txt",
    "10-dependencies.txt",
    "11-system.txt",
    "12-config.txt",
];

/// One bundle file being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Summary = 0,
    Status,
    Processes,
    Ports,
    Logs,
    Errors,
    Exits,
    Environment,
    Preflight,
    Dependencies,
    System,
    Config,
}

/// A piece of evidence with when it happened (`None`: measured now).
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) at: Option<SystemTime>,
    pub(crate) evidence: Evidence,
}

/// The bundle's contents and its evidence, redacted as they are added.
pub(crate) struct Bundle {
    files: Vec<Vec<String>>,
    pub(crate) redactor: Redactor,
    pub(crate) found: Vec<Found>,
    /// Problems worth fixing that are not the cause (a loose env file).
    pub(crate) warnings: Vec<String>,
}

impl Bundle {
    pub(crate) fn new(redactor: Redactor) -> Self {
        Self {
            files: vec![Vec::new(); FILES.len()],
            redactor,
            found: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Adds a `WARNING:` line, also listed in the summary and the output.
    pub(crate) fn warn(&mut self, part: Part, text: impl AsRef<str>) {
        let text = text.as_ref().to_string();
        self.line(part, format!("WARNING: {text}"));
        self.warnings.push(text);
    }

    /// Adds a line (each line of a multi-line text separately).
    pub(crate) fn line(&mut self, part: Part, text: impl AsRef<str>) {
        for l in text.as_ref().split('\n') {
            self.files[part as usize].push(l.to_string());
        }
    }

    /// Adds a line that is also evidence; returns the evidence. When the
    /// line as `shown` does not hold the evidence `text`, the text follows
    /// on a line of its own (`  → text`), which the evidence points at.
    pub(crate) fn evidence(
        &mut self,
        part: Part,
        at: Option<SystemTime>,
        shown: &str,
        text: &str,
    ) -> Evidence {
        self.line(part, shown);
        if !shown.contains(text) {
            self.line(part, format!("  → {text}"));
        }
        let evidence = Evidence {
            source: FILES[part as usize].to_string(),
            line: Some(self.files[part as usize].len()),
            text: text.to_string(),
        };
        self.found.push(Found {
            at,
            evidence: evidence.clone(),
        });
        evidence
    }

    /// Writes every file into `dir` (made by [`create_dir`]), redacted.
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (name, lines) in FILES.iter().zip(&self.files) {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dir.join(name))?;
            let mut text = String::new();
            for line in lines {
                text.push_str(&self.redactor.redact(line));
                text.push('\n');
            }
            file.write_all(text.as_bytes())?;
        }
        Ok(())
    }

    /// What leaves the bundle in the report: redacted too.
    pub(crate) fn redact_causes(&self, causes: &mut [backstop_diagnose::Cause]) {
        for c in causes {
            c.summary = self.redactor.redact(&c.summary).into_owned();
            for e in &mut c.evidence {
                e.text = self.redactor.redact(&e.text).into_owned();
            }
        }
    }
}

/// Makes a fresh bundle directory under `parent`, mode 0700 (a bundle holds
/// logs): `<service>-<UTC timestamp>`, or `-2`, `-3`, … when another bundle
/// of that second exists. The name is claimed by `mkdir` itself, so two
/// diagnoses at once (the daemon's and an operator's) never share one.
pub(crate) fn create_dir(
    parent: &Path,
    service: &str,
    now: SystemTime,
) -> std::io::Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700).create(parent)?;
    builder.recursive(false);
    let stamp = humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(['-', ':'], "");
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{service}-{stamp}")
        } else {
            format!("{service}-{stamp}-{n}")
        };
        let dir = parent.join(name);
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `dir` as `dir.tar.gz` beside it.
pub(crate) fn archive(dir: &Path) -> std::io::Result<PathBuf> {
    let mut path = dir.as_os_str().to_owned();
    path.push(".tar.gz");
    let path = PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let name = dir.file_name().unwrap_or_default();
    tar.append_dir_all(name, dir)?;
    tar.into_inner()?.finish()?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_bundles_in_one_second_get_two_directories() {
        let parent = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now();
        let a = super::create_dir(parent.path(), "api", now).unwrap();
        let b = super::create_dir(parent.path(), "api", now).unwrap();
        assert_ne!(a, b);
        assert!(b.display().to_string().ends_with("Z-2"), "{}", b.display());
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&a).unwrap().permissions())
                & 0o777;
        assert_eq!(mode, 0o700);
    }
}
