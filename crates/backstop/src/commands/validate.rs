//! `backstop validate`: every problem in the config at once; exit 0 or 2.

use std::path::Path;

use crate::context::load_config;
use crate::exit::{CmdResult, Code, Exit};

pub(crate) fn run(path: &Path, json: bool) -> CmdResult {
    if json {
        return run_json(path);
    }
    let loaded = load_config(path)?;
    let names: Vec<&str> = loaded
        .config
        .supervised()
        .map(|s| s.name.as_str())
        .collect();
    let jobs: Vec<&str> = loaded
        .config
        .jobs()
        .map(|s| s.name.trim_start_matches(backstop_config::JOB_PREFIX))
        .collect();
    let jobs = match jobs.len() {
        0 => String::new(),
        n => format!(
            ", {n} job{} ({})",
            if n == 1 { "" } else { "s" },
            jobs.join(", ")
        ),
    };
    println!(
        "{} is valid: {} service{} ({}){jobs}",
        path.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    Ok(())
}

fn run_json(path: &Path) -> CmdResult {
    let diag = |d: &backstop_config::Diagnostic, source: &str| {
        let (line, column) = d
            .span
            .as_ref()
            .map_or((0, 0), |s| backstop_config::line_col(source, s.start));
        serde_json::json!({
            "severity": match d.severity { backstop_config::Severity::Error => "error", backstop_config::Severity::Warning => "warning" },
            "message": d.message, "label": d.label, "help": d.help,
            "file": path.display().to_string(), "line": line, "column": column,
        })
    };
    match backstop_config::load(path) {
        Ok(loaded) => {
            let out = serde_json::json!({
                "valid": true,
                "services": loaded.config.supervised().map(|s| &s.name).collect::<Vec<_>>(),
                "jobs": loaded.config.jobs().map(|s| &s.name).collect::<Vec<_>>(),
                "diagnostics": loaded.warnings.iter().map(|d| diag(d, &loaded.source)).collect::<Vec<_>>(),
            });
            println!("{out:#}");
            Ok(())
        }
        Err(err) => {
            let out = serde_json::json!({
                "valid": false,
                "diagnostics": err.diagnostics.iter().map(|d| diag(d, &err.source_text)).collect::<Vec<_>>(),
            });
            println!("{out:#}");
            Err(Exit::new(Code::Usage, String::new()))
        }
    }
}
