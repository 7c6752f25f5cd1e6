//! Starting a child process the cheap way: `clone(CLONE_VM | CLONE_VFORK)`.
//!
//! A `fork` copies the daemon's page tables and mappings only for `exec` to
//! throw them away; with 1,000 services that copying was most of the CPU
//! of `up` (`dup_mmap`, `copy_page_range`, copy-on-write faults, then
//! `exit_mmap` at exec). Like `posix_spawn`, the child here shares the
//! daemon's memory and the daemon's calling thread waits (`CLONE_VFORK`)
//! until the child has exec'd or failed. `posix_spawn` itself cannot be
//! used: the child must also join cgroups, set its rlimits, reset every
//! signal disposition and change its user.
//!
//! What that sharing demands of the child, and how it is met:
//! - it must not touch memory the daemon's other threads use: everything it
//!   needs (argv, envp, the PATH candidates, the working directory) is
//!   built before the clone, and the child only reads it; it allocates
//!   nothing and takes no lock;
//! - it must change its credentials with raw system calls: glibc's
//!   `setuid`/`setgid`/`setgroups` signal every thread of what it believes
//!   is its process, which here are the daemon's threads;
//! - no daemon signal handler may run in it: the calling thread blocks every
//!   signal before the clone; the child resets every disposition to its
//!   default, then unblocks;
//! - its descriptor table is its own (no `CLONE_FILES`), so its `dup2`s and
//!   closes do not touch the daemon's;
//! - a failure is reported in a shared variable (the daemon reads it when
//!   the clone returns, then reaps the child), not through a pipe.

use std::collections::BTreeMap;
use std::ffi::{CString, c_char};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sched::CloneFlags;

/// The child's stack: it runs a few system calls, no deep calls.
const STACK_SIZE: usize = 64 * 1024;

/// Where a program without a `/` is looked for when the environment has no
/// `PATH` (what `execvp` uses).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What to start and how.
pub(crate) struct Launch<'a> {
    /// The program: a path, or a name looked up in the child's `PATH`.
    pub program: &'a str,
    /// Its arguments (without the program).
    pub args: &'a [String],
    /// Its whole environment.
    pub env: &'a BTreeMap<String, String>,
    /// Its working directory.
    pub dir: &'a Path,
    /// `cgroup.procs` files to join before anything else.
    pub cgroup_fds: &'a [i32],
    /// The user and group to become (backstop runs as root).
    pub ids: Option<(libc::uid_t, libc::gid_t)>,
    /// The supplementary groups that go with them.
    pub groups: &'a [libc::gid_t],
    /// `RLIMIT_NOFILE`, soft and hard.
    pub nofile: Option<u64>,
}

/// A started child: its pid (also its session and process group) and the
/// read ends of its stdout and stderr.
pub(crate) struct Launched {
    /// Its pid.
    pub pid: i32,
    /// Read end of its stdout.
    pub stdout: OwnedFd,
    /// Read end of its stderr.
    pub stderr: OwnedFd,
}

/// Which step of the child's set-up failed, for the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing failed in the child (the failure came before it existed).
    None,
    /// Its stdin, stdout and stderr.
    Stdio,
    /// Its working directory.
    Chdir,
    /// Cgroups, session, file limit, signals, user.
    Setup,
    /// The exec itself (or the PATH search).
    Exec,
}

/// A start that failed: at which step, and the errno.
#[derive(Debug)]
pub(crate) struct LaunchError {
    /// Where it failed.
    pub step: Step,
    /// Why.
    pub source: io::Error,
}

impl From<io::Error> for LaunchError {
    /// A failure before the child existed (pipes, `/dev/null`, the clone).
    fn from(source: io::Error) -> Self {
        Self {
            step: Step::None,
            source,
        }
    }
}

/// Written by the child, read by the parent once the clone returns.
struct Failure {
    step: Step,
    errno: i32,
}

/// A `CString` of `bytes`, or an error naming what held a NUL byte.
fn c_string(bytes: &[u8], what: &str) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// A NULL-terminated array of pointers into `strings` (which must outlive it).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A pipe whose both ends are close-on-exec: (read, write).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two-element array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts `l.program` with stdin from `/dev/null` and stdout and stderr
/// on pipes. An error is the errno of the step that failed: the working
/// directory, the set-up (cgroups, session, limits, credentials) or the
/// exec (`NotFound` when no candidate of `PATH` exists, `PermissionDenied`
/// when one exists but may not be executed).
pub(crate) fn launch(l: &Launch<'_>) -> Result<Launched, LaunchError> {
    let mut argv = vec![c_string(l.program.as_bytes(), "the program")?];
    for a in l.args {
        argv.push(c_string(a.as_bytes(), "an argument")?);
    }
    let envp: Vec<CString> = l
        .env
        .iter()
        .map(|(k, v)| c_string(format!("{k}={v}").as_bytes(), "an environment variable"))
        .collect::<io::Result<_>>()?;
    let candidates: Vec<CString> = if l.program.contains('/') {
        vec![argv[0].clone()]
    } else {
        l.env
            .get("PATH")
            .map_or(DEFAULT_PATH, String::as_str)
            .split(':')
            .map(|d| if d.is_empty() { "." } else { d })
            .map(|d| c_string(format!("{d}/{}", l.program).as_bytes(), "PATH"))
            .collect::<io::Result<_>>()?
    };
    let dir = c_string(l.dir.as_os_str().as_bytes(), "the working directory")?;
    let argv_p = pointers(&argv);
    let envp_p = pointers(&envp);
    // For a file without `#!` (ENOEXEC): `/bin/sh FILE ARGS…`, as execvp does.
    let shell = c"/bin/sh";
    let mut sh_argv_p: Vec<*const c_char> = vec![shell.as_ptr(), std::ptr::null()];
    sh_argv_p.extend(argv_p.iter().skip(1));

    let devnull = std::fs::File::open("/dev/null")?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let mut failure = Failure {
        step: Step::None,
        errno: 0,
    };
    let mut stack = vec![0u8; STACK_SIZE];
    let fds = (devnull.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd());
    let child = Child {
        fds,
        dir: &dir,
        cgroup_fds: l.cgroup_fds,
        ids: l.ids,
        groups: l.groups,
        nofile: l.nofile,
        candidates: &candidates,
        argv: &argv_p,
        envp: &envp_p,
    };

    // Block every signal in this thread: the child inherits the mask, so
    // no handler of the daemon can run in it before it resets them.
    // SAFETY: plain signal-mask calls on this thread with local sets.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old);
    }
    let failure_ptr: *mut Failure = &raw mut failure;
    let sh_argv_ptr = sh_argv_p.as_mut_ptr();
    // SAFETY: CLONE_VM | CLONE_VFORK: this thread is suspended until the
    // child execs or exits, so everything borrowed above outlives its use;
    // the child only makes system calls on that prepared data and writes
    // `failure` (see the module's notes).
    let cloned = unsafe {
        nix::sched::clone(
            Box::new(move || {
                let (step, errno) = child.run(sh_argv_ptr);
                (*failure_ptr).step = step;
                (*failure_ptr).errno = errno;
                127
            }),
            &mut stack,
            CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
            Some(libc::SIGCHLD),
        )
    };
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut());
    }
    drop((devnull, out_w, err_w));
    let pid = cloned.map_err(io::Error::from)?.as_raw();
    if failure.step != Step::None {
        // It has exited (127); reap it here, unless the daemon's reaper
        // already has.
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(LaunchError {
            step: failure.step,
            source: io::Error::from_raw_os_error(failure.errno),
        });
    }
    Ok(Launched {
        pid,
        stdout: out_r,
        stderr: err_r,
    })
}

/// What the child reads: pointers into the parent's prepared data.
struct Child<'a> {
    /// stdin, stdout, stderr to be.
    fds: (i32, i32, i32),
    dir: &'a CString,
    cgroup_fds: &'a [i32],
    ids: Option<(libc::uid_t, libc::gid_t)>,
    groups: &'a [libc::gid_t],
    nofile: Option<u64>,
    candidates: &'a [CString],
    argv: &'a [*const c_char],
    envp: &'a [*const c_char],
}

/// The errno of the last failed call (the daemon thread's `errno`, which
/// this child shares; that thread is suspended until the child is done).
fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl Child<'_> {
    /// Runs in the child: returns only on failure, with the step and errno.
    ///
    /// # Safety
    /// Called only in the `CLONE_VM` child, before exec.
    unsafe fn run(&self, sh_argv: *mut *const c_char) -> (Step, i32) {
        // SAFETY: system calls on descriptors and data the parent prepared.
        unsafe {
            let (stdin, stdout, stderr) = self.fds;
            if libc::dup2(stdin, 0) == -1
                || libc::dup2(stdout, 1) == -1
                || libc::dup2(stderr, 2) == -1
            {
                return (Step::Stdio, errno());
            }
            if libc::chdir(self.dir.as_ptr()) == -1 {
                return (Step::Chdir, errno());
            }
            if crate::cgroup::join_self(self.cgroup_fds).is_err() {
                return (Step::Setup, errno());
            }
            if crate::spawn::child_setup(self.ids, self.groups, self.nofile).is_err() {
                return (Step::Setup, errno());
            }
            // As execvp: a candidate that is not there is skipped, one that
            // may not be executed is remembered, any other failure is final.
            let mut denied = false;
            for candidate in self.candidates {
                libc::execve(candidate.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                match errno() {
                    libc::ENOEXEC => {
                        *sh_argv.add(1) = candidate.as_ptr();
                        libc::execve(
                            c"/bin/sh".as_ptr(),
                            sh_argv.cast_const(),
                            self.envp.as_ptr(),
                        );
                        return (Step::Exec, errno());
                    }
                    libc::EACCES => denied = true,
                    libc::ENOENT | libc::ENOTDIR => {}
                    e => return (Step::Exec, e),
                }
            }
            (Step::Exec, if denied { libc::EACCES } else { libc::ENOENT })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn run(
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> Result<(i32, String), LaunchError> {
        let args: Vec<String> = args.iter().map(ToString::to_string).collect();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let l = launch(&Launch {
            program,
            args: &args,
            env: &env,
            dir,
            cgroup_fds: &[],
            ids: None,
            groups: &[],
            nofile: None,
        })?;
        let mut out = String::new();
        std::fs::File::from(l.stdout)
            .read_to_string(&mut out)
            .unwrap();
        let mut status = 0;
        // SAFETY: waitpid on the child just started.
        unsafe { libc::waitpid(l.pid, &raw mut status, 0) };
        Ok((status, out))
    }

    #[test]
    fn a_program_found_in_path_runs_in_its_own_session_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (status, out) = run(
            "sh",
            &["-c", "echo $$ $(ps -o sid= -p $$) $(pwd) $GREETING"],
            &[("PATH", "/usr/bin:/bin"), ("GREETING", "hello")],
            dir.path(),
        )
        .unwrap();
        assert_eq!(status, 0);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(words[0], words[1], "its own session: {out}");
        assert_eq!(Path::new(words[2]), dir.path().canonicalize().unwrap());
        assert_eq!(words[3], "hello");
    }

    #[test]
    fn a_script_without_a_shebang_runs_with_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("job");
        std::fs::write(&script, "echo from the script \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (status, out) = run(script.to_str().unwrap(), &["arg"], &[], dir.path()).unwrap();
        assert_eq!((status, out.as_str()), (0, "from the script arg\n"));
    }

    #[test]
    fn failures_say_which_errno_and_which_step() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(
            "no-such-program-anywhere",
            &[],
            &[("PATH", "/usr/bin:/bin")],
            dir.path(),
        )
        .err()
        .unwrap();
        assert_eq!(
            (err.step, err.source.kind()),
            (Step::Exec, io::ErrorKind::NotFound)
        );
        let plain = dir.path().join("data");
        std::fs::write(&plain, "x").unwrap();
        let err = run(plain.to_str().unwrap(), &[], &[], dir.path())
            .err()
            .unwrap();
        assert_eq!(
            (err.step, err.source.kind()),
            (Step::Exec, io::ErrorKind::PermissionDenied)
        );
        let err = run("/bin/true", &[], &[], &dir.path().join("gone"))
            .err()
            .unwrap();
        assert_eq!(
            (err.step, err.source.kind()),
            (Step::Chdir, io::ErrorKind::NotFound)
        );
    }
}
