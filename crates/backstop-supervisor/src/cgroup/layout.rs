//! Where the cgroup hierarchies are, from `/proc/self/mountinfo` and
//! `/proc/self/cgroup`: pure parsing, tested on both layouts.
//!
//! Two layouts are met in practice: a pure cgroup v2 (one `cgroup2`
//! mount holding every controller) and the hybrid one (cgroup v1 mounts
//! per controller — `memory`, `pids`, `cpu`, `freezer`, … — plus a
//! `cgroup2` mount without controllers, often at `/sys/fs/cgroup/unified`).
//! backstop uses the v2 hierarchy for membership and `cgroup.kill`, and
//! whichever hierarchy holds a controller for its limits.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The hierarchies of this host, as seen by this process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The cgroup v2 hierarchy: this process's own cgroup in it, as a
    /// directory (`/sys/fs/cgroup/unified/` or `/sys/fs/cgroup/user.slice/…`).
    pub unified: Option<PathBuf>,
    /// The controllers enabled in the v2 hierarchy where this process is.
    pub unified_controllers: Vec<String>,
    /// v1 controllers: `memory` → this process's cgroup directory in it.
    pub v1: BTreeMap<String, PathBuf>,
}

/// One mount of a cgroup filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mount {
    /// Where it is mounted.
    at: PathBuf,
    /// The path inside the hierarchy that is mounted there (`/` usually).
    root: String,
    /// `cgroup2`, or the v1 controllers (`memory`, `cpu,cpuacct`, `name=systemd`).
    v2: bool,
    controllers: Vec<String>,
}

/// The cgroup mounts of a `mountinfo` text.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let (root, at) = (fields.get(3)?, fields.get(4)?);
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("");
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let controllers = if v2 {
                Vec::new()
            } else {
                options
                    .split(',')
                    .filter(|o| {
                        !matches!(*o, "rw" | "ro" | "relatime" | "nosuid" | "nodev" | "noexec")
                    })
                    .map(str::to_string)
                    .collect()
            };
            Some(Mount {
                at: PathBuf::from(unescape(at)),
                root: unescape(root),
                v2,
                controllers,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and the like as `\040`.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        if let Some(b) = code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            out.push(char::from(b));
            rest = &rest[at + 4..];
        } else {
            out.push('\\');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// `/proc/self/cgroup`: hierarchy id, its controllers (empty for v2), the path.
fn memberships(proc_cgroup: &str) -> Vec<(Vec<String>, String)> {
    proc_cgroup
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            let list = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some((list, path.to_string()))
        })
        .collect()
}

/// The layout from the texts of `/proc/self/mountinfo` and
/// `/proc/self/cgroup`, and `cgroup.controllers` of the v2 cgroup (read by
/// `controllers_of` once the directory is known).
pub fn parse(
    mountinfo: &str,
    proc_cgroup: &str,
    controllers_of: impl Fn(&std::path::Path) -> String,
) -> Layout {
    let mounts = mounts(mountinfo);
    let mut layout = Layout::default();
    for (controllers, path) in memberships(proc_cgroup) {
        let mount = if controllers.is_empty() {
            mounts.iter().find(|m| m.v2)
        } else {
            mounts
                .iter()
                .find(|m| !m.v2 && controllers.iter().all(|c| m.controllers.contains(c)))
        };
        let Some(mount) = mount else { continue };
        // The mount shows the hierarchy from `root`: the process's path
        // relative to it.
        let relative = path
            .strip_prefix(mount.root.trim_end_matches('/'))
            .unwrap_or(&path)
            .trim_start_matches('/');
        let dir = mount.at.join(relative);
        if controllers.is_empty() {
            layout.unified_controllers = controllers_of(&dir)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            layout.unified = Some(dir);
        } else {
            for c in controllers {
                layout.v1.insert(c, dir.clone());
            }
        }
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/6ab5
1:cpu:/
0::/
";

    #[test]
    fn the_hybrid_layout_gives_v2_membership_and_v1_controllers() {
        let l = parse(HYBRID_MOUNTS, HYBRID_SELF, |_| String::new());
        assert_eq!(l.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert!(l.unified_controllers.is_empty());
        assert_eq!(
            l.v1.get("memory"),
            Some(&PathBuf::from("/sys/fs/cgroup/memory/process_api/6ab5"))
        );
        assert_eq!(
            l.v1.get("pids"),
            Some(&PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert!(l.v1.contains_key("freezer") && l.v1.contains_key("cpu"));
    }

    #[test]
    fn pure_v2_with_delegated_controllers() {
        let mounts = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
        let own = "0::/system.slice/backstop.service\n";
        let l = parse(mounts, own, |dir| {
            assert_eq!(
                dir,
                std::path::Path::new("/sys/fs/cgroup/system.slice/backstop.service")
            );
            "cpu memory pids".to_string()
        });
        assert_eq!(
            l.unified,
            Some(PathBuf::from(
                "/sys/fs/cgroup/system.slice/backstop.service"
            ))
        );
        assert_eq!(l.unified_controllers, ["cpu", "memory", "pids"]);
        assert!(l.v1.is_empty());
    }

    #[test]
    fn a_container_sees_its_own_subtree_as_root() {
        // The mount's root is the container's cgroup: the path is relative to it.
        let mounts = "40 30 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let l = parse(mounts, "0::/docker/abc\n", |_| String::new());
        assert_eq!(l.unified, Some(PathBuf::from("/sys/fs/cgroup")));
    }
}
