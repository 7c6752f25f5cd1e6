//! The disk probe: used space and inodes of a path's filesystem against
//! limits, computed like `df` (used / (used + available to unprivileged
//! users)). [`usage`] is the measurement, shared with `diagnose`.

use std::path::{Path, PathBuf};

/// Space and inodes of one filesystem.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiskUsage {
    /// Space used, in percent of what unprivileged users may use.
    pub used_pct: f64,
    /// Inodes used, in percent.
    pub inodes_used_pct: f64,
    /// The filesystem's size.
    pub total_bytes: u64,
    /// Space an unprivileged user may still write.
    pub free_bytes: u64,
}

/// Measures the filesystem holding `path` (`statvfs`; it may hang on a
/// dead network mount, so async callers run it on a blocking thread).
pub fn usage(path: &Path) -> nix::Result<DiskUsage> {
    let stat = nix::sys::statvfs::statvfs(path)?;
    let frag = stat.fragment_size();
    let used_blocks = stat.blocks().saturating_sub(stat.blocks_free());
    let usable = used_blocks + stat.blocks_available();
    let files = stat.files();
    let percent = |part: u64, whole: u64| {
        if whole > 0 {
            part as f64 / whole as f64 * 100.0
        } else {
            0.0
        }
    };
    Ok(DiskUsage {
        used_pct: percent(used_blocks, usable),
        inodes_used_pct: percent(files.saturating_sub(stat.files_free()), files),
        total_bytes: stat.blocks() * frag,
        free_bytes: stat.blocks_available() * frag,
    })
}

/// `statvfs` may hang on a dead network mount: it runs on a blocking
/// thread, so the caller's timeout holds and the daemon's one thread never
/// waits on it.
pub(crate) async fn probe(path: &Path, max_used: f64, max_inodes: f64) -> Result<String, String> {
    let owned: PathBuf = path.to_path_buf();
    let u = tokio::task::spawn_blocking(move || usage(&owned))
        .await
        .map_err(|e| format!("the disk probe crashed: {e}"))?
        .map_err(|e| format!("cannot stat {}: {}", path.display(), e.desc()))?;
    let summary = format!(
        "{}: {:.1}% of {:.1} GB used, {:.1}% of inodes",
        path.display(),
        u.used_pct,
        u.total_bytes as f64 / 1e9,
        u.inodes_used_pct
    );
    if u.used_pct > max_used {
        Err(format!("{summary} (limit {max_used}% of space)"))
    } else if u.inodes_used_pct > max_inodes {
        Err(format!("{summary} (limit {max_inodes}% of inodes)"))
    } else {
        Ok(summary)
    }
}
