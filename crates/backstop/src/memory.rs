//! Keeping the daemon's resident memory to its working set.
//!
//! At start-up the kernel maps most of the binary's code (it faults pages
//! in 64 KiB "fault-around" chunks), including the CLI, the TLS and database
//! clients and everything else an idle daemon never runs again. Once the
//! daemon is up, [`drop_startup_code`] unmaps the pages of read-only
//! executable file mappings: they stay in the page cache, and the code the
//! daemon does run faults back in (a minor fault, no disk read). Only
//! `r-xp` file mappings are touched: they are never written, so nothing is
//! lost (relocated data, heap and stacks are left alone).

/// Drops the resident pages of every read-only executable file mapping.
pub(crate) fn drop_startup_code() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Only private, read-only, executable mappings of a file.
        let path = fields.nth(3);
        if perms != "r-xp" || !path.is_some_and(|p| p.starts_with('/')) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is a whole mapping of this process, read-only and
        // executable, backed by an unmodified file: MADV_DONTNEED only drops
        // page-table entries, and the next access maps the page cache again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
