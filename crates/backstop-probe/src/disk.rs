//! The disk probe: used space and inodes of the filesystem holding a path,
//! computed like `df` (used / (used + available to unprivileged users)).

use std::path::{Path, PathBuf};

/// `statvfs` may hang on a dead network mount: it runs on a blocking
/// thread, so the caller's timeout holds and the daemon's one thread never
/// waits on it.
pub(crate) async fn probe(path: &Path, max_used: f64, max_inodes: f64) -> Result<String, String> {
    let owned: PathBuf = path.to_path_buf();
    let stat = tokio::task::spawn_blocking(move || nix::sys::statvfs::statvfs(&owned))
        .await
        .map_err(|e| format!("the disk probe crashed: {e}"))?
        .map_err(|e| format!("cannot stat {}: {}", path.display(), e.desc()))?;
    let frag = stat.fragment_size() as f64;
    let used_blocks = stat.blocks().saturating_sub(stat.blocks_free()) as f64;
    let usable = used_blocks + stat.blocks_available() as f64;
    let used_pct = if usable > 0.0 {
        used_blocks / usable * 100.0
    } else {
        0.0
    };
    let total_gb = stat.blocks() as f64 * frag / 1e9;
    let files = stat.files() as f64;
    let inodes_pct = if files > 0.0 {
        (files - stat.files_free() as f64) / files * 100.0
    } else {
        0.0
    };
    let summary = format!(
        "{}: {used_pct:.1}% of {total_gb:.1} GB used, {inodes_pct:.1}% of inodes",
        path.display()
    );
    if used_pct > max_used {
        Err(format!("{summary} (limit {max_used}% of space)"))
    } else if inodes_pct > max_inodes {
        Err(format!("{summary} (limit {max_inodes}% of inodes)"))
    } else {
        Ok(summary)
    }
}
