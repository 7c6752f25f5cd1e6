//! Creating a service's main process, clean.
//!
//! A child starts in its own session and process group (so a stop can signal
//! the whole group, and a terminal's Ctrl-C reaches backstop, not the
//! children), with every signal at its default disposition and an empty
//! signal mask (Rust ignores SIGPIPE and `nohup` ignores SIGHUP; a child must
//! inherit neither), with only fds 0, 1 and 2 open, and with the privileges
//! of `user`/`group` when backstop runs as root. Everything that can fail is
//! checked before the child is created ([`crate::launch`] creates it), so
//! the operator gets a sentence, not an errno.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use backstop_config::ServiceConfig;
use nix::unistd::{Gid, Group, Uid, User};

/// Set in every child: the name of its service.
pub const SERVICE_ENV: &str = "BACKSTOP_SERVICE";
/// Set in every child: the state directory of the backstop that runs it.
/// With [`SERVICE_ENV`], this recognises leftovers of this very service.
pub const STATE_DIR_ENV: &str = "BACKSTOP_STATE_DIR";

/// Who the child runs as.
#[derive(Clone, Debug)]
pub struct Credentials {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
}

/// Everything needed to fork and exec, resolved and checked.
#[derive(Debug)]
pub struct SpawnPlan {
    program: String,
    args: Vec<String>,
    dir: PathBuf,
    env: BTreeMap<String, String>,
    credentials: Option<Credentials>,
    /// `limits.nofile`: `RLIMIT_NOFILE` of the child.
    nofile: Option<u64>,
}

/// A started main process.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid, which is also its process group and session id.
    pub pid: i32,
    /// Read end of its stdout.
    pub stdout: OwnedFd,
    /// Read end of its stderr.
    pub stderr: OwnedFd,
}

/// Variables of backstop's own environment that no child may inherit.
static WITHHELD: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Keeps variable `name` (the API token's) out of every child backstop
/// starts from now on: services, checks, alert commands, diagnoses.
pub fn withhold_from_children(name: &str) {
    let mut withheld = WITHHELD
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !withheld.iter().any(|w| w == name) {
        withheld.push(name.to_string());
    }
}

/// backstop's own environment as a child inherits it: without withheld
/// variables, and without those that are not UTF-8.
pub fn inherited_environment() -> std::collections::BTreeMap<String, String> {
    let withheld = WITHHELD
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !withheld.contains(k))
        .collect()
}

/// Why a service could not be started. The messages are for the operator
/// (they become the `failed` state's detail and the `spawn-failed` event);
/// the variants are for code that decides (diagnosis, remediation).
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The service's `dir` does not exist.
    #[error("working directory does not exist: {}", .0.display())]
    WorkdirMissing(std::path::PathBuf),
    /// The env file is missing or not valid.
    #[error(transparent)]
    EnvFile(#[from] backstop_config::EnvFileError),
    /// `user =` names nobody.
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// The user database holds a name that is no C string.
    #[error("invalid user name `{0}` (it holds a NUL byte)")]
    InvalidUserName(String),
    /// `group =` names no group.
    #[error("unknown group `{0}`")]
    UnknownGroup(String),
    /// The user or group database could not be read.
    #[error("cannot look up {what} `{name}`: {source}")]
    Lookup {
        /// `user` or `group`.
        what: &'static str,
        /// The name looked up.
        name: String,
        /// Why.
        source: nix::Error,
    },
    /// Another identity needs root.
    #[error("{what} needs backstop to run as root (it runs as uid {uid})")]
    NeedsRoot {
        /// The setting, as written.
        what: String,
        /// backstop's own uid.
        uid: u32,
    },
    /// `limits.nofile` is above the hard limit and backstop may not raise it.
    #[error(
        "limits.nofile = {wanted} is above the hard limit of open files ({hard}), which backstop may not raise here (it needs root with CAP_SYS_RESOURCE, which containers often drop): lower `limits.nofile`, or raise the limit of backstop itself (`ulimit -Hn`, LimitNOFILE= of its unit)"
    )]
    NofileAboveHardLimit {
        /// The configured value.
        wanted: u64,
        /// backstop's own hard limit.
        hard: u64,
    },
    /// The program is not there (no such file, or not in `PATH`).
    #[error("command not found: {program} ({where_})")]
    CommandNotFound {
        /// The program.
        program: String,
        /// `no such file`, or the `PATH` searched.
        where_: String,
    },
    /// The program may not be executed.
    #[error("permission denied: cannot execute {0}")]
    NotExecutable(String),
    /// The child could not be set up before its exec.
    #[error("cannot start {program}: {step} failed: {source}")]
    Setup {
        /// The program.
        program: String,
        /// What the child was doing.
        step: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Any other failure of the exec.
    #[error("cannot start {program}: {source}")]
    Exec {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Resolves the environment, working directory and credentials of `service`.
pub fn prepare(service: &ServiceConfig, state_dir: &Path) -> Result<SpawnPlan, SpawnError> {
    if !service.dir.is_dir() {
        return Err(SpawnError::WorkdirMissing(service.dir.clone()));
    }
    let mut env = backstop_config::service_environment(service, inherited_environment())?;
    let credentials = match &service.user {
        Some(user) => Some(resolve_user(
            user,
            service.group.as_deref(),
            service,
            &mut env,
        )?),
        None => match &service.group {
            Some(group) => Some(resolve_group_only(group)?),
            None => None,
        },
    };
    env.insert(SERVICE_ENV.to_string(), service.name.clone());
    env.insert(STATE_DIR_ENV.to_string(), state_dir.display().to_string());
    let (program, args) = service
        .command
        .split_first()
        .expect("UNWRAP: the config loader rejects empty commands");
    Ok(SpawnPlan {
        program: program.clone(),
        args: args.to_vec(),
        dir: service.dir.clone(),
        env,
        credentials,
        nofile: service.limits.nofile,
    })
}

/// `limits.nofile` can be set in the child: below backstop's hard limit,
/// or backstop may raise it (`CAP_SYS_RESOURCE`, which root has outside
/// containers that drop it), and within the kernel's `fs.nr_open`.
fn check_nofile(wanted: Option<u64>) -> Result<(), SpawnError> {
    let Some(wanted) = wanted else { return Ok(()) };
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((0, u64::MAX));
    if wanted <= hard {
        return Ok(());
    }
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if !may_raise_limits() || wanted > nr_open {
        return Err(SpawnError::NofileAboveHardLimit {
            wanted,
            hard: hard.min(nr_open),
        });
    }
    Ok(())
}

/// Does backstop hold `CAP_SYS_RESOURCE` (bit 24 of `CapEff`)?
fn may_raise_limits() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .map_or_else(|| Uid::effective().is_root(), |caps| caps & (1 << 24) != 0)
}

fn needs_root(what: String) -> Result<(), SpawnError> {
    if Uid::effective().is_root() {
        Ok(())
    } else {
        Err(SpawnError::NeedsRoot {
            what,
            uid: Uid::effective().as_raw(),
        })
    }
}

fn lookup_group(name: &str) -> Result<Gid, SpawnError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(SpawnError::UnknownGroup(name.to_string())),
        Err(source) => Err(SpawnError::Lookup {
            what: "group",
            name: name.to_string(),
            source,
        }),
    }
}

fn resolve_user(
    name: &str,
    group: Option<&str>,
    service: &ServiceConfig,
    env: &mut BTreeMap<String, String>,
) -> Result<Credentials, SpawnError> {
    let user = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    }
    .map_err(|source| SpawnError::Lookup {
        what: "user",
        name: name.to_string(),
        source,
    })?
    .ok_or_else(|| SpawnError::UnknownUser(name.to_string()))?;
    if user.uid == Uid::effective() && group.is_none() {
        return Ok(Credentials {
            uid: user.uid,
            gid: Gid::effective(),
            groups: Vec::new(),
        });
    }
    needs_root(format!("`user = \"{name}\"`"))?;
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => user.gid,
    };
    let cname = CString::new(user.name.clone())
        .map_err(|_| SpawnError::InvalidUserName(name.to_string()))?;
    let groups = nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid]);
    // Like systemd's User=: the child sees its own identity, unless the
    // config says otherwise.
    for (key, value) in [
        ("HOME", user.dir.display().to_string()),
        ("USER", user.name.clone()),
        ("LOGNAME", user.name.clone()),
    ] {
        if !service.env.0.contains_key(key) {
            env.insert(key.to_string(), value);
        }
    }
    Ok(Credentials {
        uid: user.uid,
        gid,
        groups,
    })
}

fn resolve_group_only(name: &str) -> Result<Credentials, SpawnError> {
    let gid = lookup_group(name)?;
    if gid != Gid::effective() {
        needs_root(format!("`group = \"{name}\"`"))?;
    }
    Ok(Credentials {
        uid: Uid::effective(),
        gid,
        groups: vec![gid],
    })
}

impl SpawnPlan {
    /// Where the service's exec health checks (and `diagnose`'s preflight
    /// commands) run: its directory, environment and user. Inside the
    /// daemon `reaper` must be set (see [`backstop_probe::ProbeReaper`]).
    pub fn probe_context(
        &self,
        reaper: Option<backstop_probe::ProbeReaper>,
    ) -> backstop_probe::ExecContext {
        backstop_probe::ExecContext {
            dir: self.dir.clone(),
            env: self.env.clone(),
            ids: self
                .credentials
                .as_ref()
                .map(|c| (c.uid.as_raw(), c.gid.as_raw())),
            reaper,
        }
    }

    /// The complete environment the service starts with.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// Starts the plan ([`crate::launch`]: a `CLONE_VM | CLONE_VFORK` child,
/// not a fork); the child first joins the cgroups whose `cgroup.procs` are
/// open in `cgroup_procs` (none: no cgroup).
pub fn spawn(
    plan: &SpawnPlan,
    cgroup_procs: &[std::os::fd::OwnedFd],
) -> Result<Spawned, SpawnError> {
    use std::os::fd::AsRawFd;
    check_nofile(plan.nofile)?;
    let cgroup_fds: Vec<i32> = cgroup_procs.iter().map(AsRawFd::as_raw_fd).collect();
    let groups: Vec<libc::gid_t> = plan
        .credentials
        .as_ref()
        .map(|c| c.groups.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    let launched = crate::launch::launch(&crate::launch::Launch {
        program: &plan.program,
        args: &plan.args,
        env: &plan.env,
        dir: &plan.dir,
        cgroup_fds: &cgroup_fds,
        ids: plan
            .credentials
            .as_ref()
            .map(|c| (c.uid.as_raw(), c.gid.as_raw())),
        groups: &groups,
        nofile: plan.nofile,
    })
    .map_err(|err| match err.step {
        crate::launch::Step::Exec => explain_spawn_error(&plan.program, &plan.env, err.source),
        crate::launch::Step::Chdir if err.source.kind() == io::ErrorKind::NotFound => {
            SpawnError::WorkdirMissing(plan.dir.clone())
        }
        step => SpawnError::Setup {
            program: plan.program.clone(),
            step: match step {
                crate::launch::Step::Chdir => "entering its working directory",
                crate::launch::Step::Stdio => "connecting its output",
                crate::launch::Step::Setup => {
                    "joining its cgroups, setting its file limit or becoming its user"
                }
                _ => "creating its process",
            },
            source: err.source,
        },
    })?;
    Ok(Spawned {
        pid: launched.pid,
        stdout: launched.stdout,
        stderr: launched.stderr,
    })
}

/// Runs in the child between its creation and exec: its own session, the
/// file limit, every signal at its default and none blocked, the service's
/// user, and nothing inherited above stderr. System calls only: it runs
/// in a child that shares the daemon's memory ([`crate::launch`]), where
/// glibc's `setuid` family would signal the daemon's threads.
pub(crate) fn child_setup(
    ids: Option<(libc::uid_t, libc::gid_t)>,
    groups: &[libc::gid_t],
    nofile: Option<u64>,
) -> io::Result<()> {
    // SAFETY: plain system calls on this process.
    unsafe {
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        // Before dropping privileges: raising the hard limit needs root.
        if let Some(n) = nofile {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        // The raw syscall, not libc's signal(): glibc refuses its internal
        // real-time signals (32, 33), yet they can arrive ignored. An
        // all-zero kernel sigaction is SIG_DFL with no flags and an empty
        // mask on every architecture.
        let default_action = [0u64; 4];
        for signal in 1..=libc::SIGRTMAX() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    default_action.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        // Only now, with no handler left, unblock everything (the launcher
        // blocked all signals around the clone).
        let empty = [0u64; 1];
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            empty.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        );
        if let Some((uid, gid)) = ids {
            if libc::syscall(libc::SYS_getuid) == 0
                && libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) == -1
            {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_setgid, gid) == -1
                || libc::syscall(libc::SYS_setuid, uid) == -1
            {
                return Err(io::Error::last_os_error());
            }
        }
        // Whatever backstop itself inherited (a shell's stray fd, a CI
        // runner's pipe) must not leak into services: mark everything above
        // stderr close-on-exec.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    Ok(())
}

fn explain_spawn_error(
    program: &str,
    env: &BTreeMap<String, String>,
    err: io::Error,
) -> SpawnError {
    let program = program.to_string();
    match err.kind() {
        io::ErrorKind::NotFound if program.contains('/') => SpawnError::CommandNotFound {
            program,
            where_: "no such file".to_string(),
        },
        io::ErrorKind::NotFound => SpawnError::CommandNotFound {
            program,
            where_: format!(
                "not in PATH={}",
                env.get("PATH").map_or("<unset>", String::as_str)
            ),
        },
        io::ErrorKind::PermissionDenied => SpawnError::NotExecutable(program),
        _ => SpawnError::Exec {
            program,
            source: err,
        },
    }
}
