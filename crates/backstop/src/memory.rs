//! Keeping the daemon's resident memory to its working set.
//!
//! At start-up the kernel maps most of the binary's code (it faults pages
//! in 64 KiB "fault-around" chunks), including the CLI, the TLS and database
//! clients and everything else an idle daemon never runs again. Once the
//! daemon is up, [`drop_startup_code`] drops the resident pages of the
//! read-only segments of the program and of the libraries it was linked
//! with: they stay in the page cache, and the code the daemon does run
//! faults back in (a minor fault, no disk read). Requests and restarts
//! fault code in again, so the daemon checks once a minute and drops again
//! when its resident size grew.
//!
//! # Why this is sound
//! `MADV_DONTNEED` on memory that holds data destroys the data: a private
//! anonymous or written page reads back as zeros. An earlier version found
//! its ranges in `/proc/self/smaps` and could, in principle, drop a range
//! that another thread unmapped and reused between the read and the call.
//! Now the ranges are fixed before `main` runs anything else:
//! [`record_startup_segments`] asks the dynamic loader (`dl_iterate_phdr`)
//! for the non-writable `PT_LOAD` segments of the objects loaded at program
//! start — the program itself, libc, libm, the loader (not the kernel's
//! vDSO, which is no file). Those objects can
//! never be unloaded (the loader never drops the initial link map), so
//! their segments stay mapped, at those addresses, from the same files,
//! for the life of the process; a non-writable segment is never written
//! (Rust programs have no text relocations, and RELRO lives in a writable
//! segment), so it has no private copy-on-write page to lose. Only whole
//! pages inside a segment are dropped. What is dropped is therefore always
//! a clean page of an unmodified file mapping, which the next access maps
//! from the page cache again.

use std::sync::OnceLock;

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

/// A whole-page range of a read-only segment of an object loaded at start.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: usize,
    len: usize,
}

static STARTUP_SEGMENTS: OnceLock<Vec<Segment>> = OnceLock::new();

/// Records the read-only segments of the objects loaded at program start.
/// Call first thing in `main`, before anything can `dlopen` (the name
/// service libraries `user =` looks up are loaded later, and are not
/// recorded: they could in principle be unloaded).
pub(crate) fn record_startup_segments() {
    STARTUP_SEGMENTS.get_or_init(|| {
        let mut found: Vec<Segment> = Vec::new();
        // SAFETY: dl_iterate_phdr calls `collect` once per loaded object
        // with a valid `dl_phdr_info` and the pointer we pass; `collect`
        // only reads the program headers it is given.
        unsafe {
            libc::dl_iterate_phdr(
                Some(collect),
                std::ptr::from_mut(&mut found).cast::<libc::c_void>(),
            );
        }
        found
    });
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: called by dl_iterate_phdr with a valid info, and `data` is
    // the `&mut Vec<Segment>` given in `record_startup_segments`.
    let (info, found) = unsafe { (&*info, &mut *data.cast::<Vec<Segment>>()) };
    // The vDSO is the kernel's, not a file: left alone.
    // SAFETY: getauxval has no preconditions.
    let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    if vdso != 0 && info.dlpi_addr as usize == vdso {
        return 0;
    }
    let page = page_size();
    for i in 0..usize::from(info.dlpi_phnum) {
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
            continue;
        }
        let begin = info.dlpi_addr as usize + ph.p_vaddr as usize;
        let end = begin + ph.p_memsz as usize;
        // Whole pages only: a page shared with a writable neighbour is kept.
        let start = begin.next_multiple_of(page);
        let stop = end - end % page;
        if stop > start {
            found.push(Segment {
                start,
                len: stop - start,
            });
        }
    }
    0
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Drops the resident pages of the recorded read-only segments (code and
/// constants) and asks the kernel to fault them back one page at a time
/// (`MADV_RANDOM` turns off fault-around), so that what stays resident is
/// what the daemon runs, not its 64 KiB neighbourhood.
pub(crate) fn drop_startup_code() {
    for s in STARTUP_SEGMENTS.get().map_or(&[][..], Vec::as_slice) {
        // SAFETY: see the module documentation: the range lies in a
        // non-writable segment of an object that is never unloaded, so it
        // is mapped from an unmodified file for the life of the process
        // and holds no page whose content could be lost.
        unsafe {
            libc::madvise(s.start as *mut libc::c_void, s.len, libc::MADV_DONTNEED);
            libc::madvise(s.start as *mut libc::c_void, s.len, libc::MADV_RANDOM);
        }
    }
}

/// Hands the free pages inside the heap back to the kernel. glibc returns
/// only the top of the heap by itself; what start-up and bursts of requests
/// freed in the middle stays resident (1.8 MB of a daemon with 1,000
/// services, measured with `malloc_trim` called from gdb).
pub(crate) fn return_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_segments_are_read_only_file_mappings_that_survive_a_drop() {
        record_startup_segments();
        let segments = STARTUP_SEGMENTS.get().unwrap();
        assert!(!segments.is_empty());
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for s in segments {
            let covering = maps.lines().find(|l| {
                let range = l.split_whitespace().next().unwrap();
                let (a, b) = range.split_once('-').unwrap();
                let (a, b) = (
                    usize::from_str_radix(a, 16).unwrap(),
                    usize::from_str_radix(b, 16).unwrap(),
                );
                a <= s.start && s.start + s.len <= b
            });
            let line = covering.unwrap_or_else(|| panic!("{s:?} is not one mapping:\n{maps}"));
            let perms = line.split_whitespace().nth(1).unwrap();
            assert!(!perms.contains('w'), "{line}");
            assert!(
                line.split_whitespace()
                    .nth(5)
                    .is_some_and(|p| p.starts_with('/')),
                "{line}"
            );
        }
        // Code and constants come back intact after the drop, byte for byte,
        // while another thread keeps running code from them.
        let contents = |s: &Segment| -> u64 {
            use std::hash::{Hash, Hasher};
            // SAFETY: the segment is a mapped, readable range for the life
            // of the process (checked against /proc/self/maps above).
            let bytes = unsafe { std::slice::from_raw_parts(s.start as *const u8, s.len) };
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        };
        let before: Vec<u64> = segments.iter().map(contents).collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = n.wrapping_add(format!("{n:x}").len() as u64);
                }
                n
            })
        };
        drop_startup_code();
        drop_startup_code();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy.join().unwrap();
        let after: Vec<u64> = segments.iter().map(contents).collect();
        assert_eq!(before, after);
    }
}
