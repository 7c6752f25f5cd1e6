//! Keeping the daemon's resident memory to its working set.
//!
//! At start-up the kernel maps most of the binary's code (it faults pages
//! in 64 KiB "fault-around" chunks), including the CLI, the TLS and database
//! clients and everything else an idle daemon never runs again. Once the
//! daemon is up, [`drop_startup_code`] unmaps the pages of read-only
//! executable file mappings: they stay in the page cache, and the code the
//! daemon does run faults back in (a minor fault, no disk read). Only
//! `r-xp` file mappings are touched: they are never written, so nothing is
//! lost (relocated data, heap and stacks are left alone). Requests and
//! restarts fault code in again, so the daemon checks once a minute and
//! drops again when its resident size grew.

/// One malloc arena for the whole daemon. glibc gives each thread that
/// allocates its own arena (the capture and log writer threads would hold
/// two more, each keeping freed memory after a burst); three threads share
/// one arena with no contention worth measuring.
pub(crate) fn share_one_arena() {
    // SAFETY: mallopt only sets an allocator parameter; called before the
    // daemon starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// One file mapping that can be dropped safely.
struct Mapping {
    start: usize,
    len: usize,
}

/// Private, read-only mappings of a file whose pages were never written
/// (no anonymous copy-on-write pages: relocated data is excluded).
fn clean_file_mappings() -> Vec<Mapping> {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current: Option<Mapping> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3);
            let readonly_file = perms.starts_with('r')
                && perms.as_bytes().get(1) == Some(&b'-')
                && perms.ends_with('p')
                && path.is_some_and(|p| p.starts_with('/'));
            current = readonly_file.then_some(Mapping {
                start,
                len: end - start,
            });
        } else if first == "Anonymous:" {
            let anon: u64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(1);
            if let Some(m) = current.take()
                && anon == 0
            {
                out.push(m);
            }
        }
    }
    out
}

/// Drops the resident pages of every clean, read-only file mapping (code
/// and constants) and asks the kernel to fault them back one page at a
/// time (`MADV_RANDOM` turns off fault-around), so that what stays resident
/// is what the daemon runs, not its 64 KiB neighbourhood.
pub(crate) fn drop_startup_code() {
    for m in clean_file_mappings() {
        // SAFETY: the range is a whole mapping of this process, read-only,
        // backed by an unmodified file and never written (no anonymous
        // pages): MADV_DONTNEED only drops page-table entries, and the next
        // access maps the page cache again. MADV_RANDOM is only a hint.
        unsafe {
            libc::madvise(m.start as *mut libc::c_void, m.len, libc::MADV_DONTNEED);
            libc::madvise(m.start as *mut libc::c_void, m.len, libc::MADV_RANDOM);
        }
    }
}
