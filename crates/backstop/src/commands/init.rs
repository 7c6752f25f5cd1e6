//! `backstop init`: write a commented starter config.

use std::path::Path;

use crate::exit::{CmdResult, Code, Exit};

pub(crate) fn run(path: &Path, force: bool) -> CmdResult {
    if path.exists() && !force {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "{} already exists; use --force to overwrite it",
                path.display()
            ),
        ));
    }
    std::fs::write(path, backstop_config::STARTER_CONFIG).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    println!(
        "wrote {}: edit it, check it with `backstop validate`, run it with `backstop up`",
        path.display()
    );
    Ok(())
}
