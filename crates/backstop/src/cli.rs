//! The command line: every verb, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// backstop keeps your backend services alive and tells you why they died.
#[derive(Debug, Parser)]
#[command(
    name = "backstop",
    version,
    about,
    long_about = "backstop keeps your backend services alive and tells you why they died.\n\n\
Define services in backstop.toml, then `backstop up` starts them in dependency order, \
restarts them with exponential backoff, stops whole process trees cleanly and reports \
their state with `backstop status`.",
    after_help = "Exit codes: 0 ok; 1 a service asked about failed; 2 usage or config error; 3 no daemon running\n(`check`: 0 healthy, 1 degraded, 2 unhealthy).\n\
Config: -c PATH, else BACKSTOP_CONFIG, else backstop.toml here or in the nearest parent directory.\nEnvironment: BACKSTOP_CONFIG, NO_COLOR, BACKSTOP_LOG=error|warn|info|debug|trace\n(backstop's own diagnostics, default warn).\n\
Docs: docs/configuration.md (every key), docs/architecture.md (how it works)."
)]
pub(crate) struct Cli {
    /// The config file (default: backstop.toml here, or in the nearest
    /// parent directory that has one, as cargo and git look).
    #[arg(short, long, global = true, env = "BACKSTOP_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented starter backstop.toml.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check the config and report every problem with file:line:col (exit 0 or 2).
    Validate,
    /// Start the services (and what they depend on) and supervise them.
    ///
    /// In the foreground, service output is shown prefixed by the service
    /// name; Ctrl-C stops everything gracefully (twice: at once). With -d the
    /// daemon detaches and the command returns once the services are started.
    Up(UpArgs),
    /// Stop every service, then the daemon.
    Down,
    /// Start services (and what they depend on).
    Start(ServiceArgs),
    /// Stop services (their whole process trees).
    Stop(ServiceArgs),
    /// Stop, then start services.
    Restart(ServiceArgs),
    /// The services live in the terminal (like `pm2 monit`); `?` lists the keys.
    ///
    /// Refreshed once a second: state, health, pid, uptime, restarts, CPU,
    /// memory and error lines per minute of every service, the selected
    /// one's checks, diagnosis and memory/CPU sparklines, and the newest
    /// events. Keys: ↑/↓ or j/k select, Enter details, r restart, s
    /// stop/start, d diagnose, l follow the log, / filter, ? help, q quit.
    /// Fits 80×24; `NO_COLOR` honoured. The web dashboard (`[daemon]
    /// listen`) shows the same in a browser.
    Top,
    /// Run a service as N copies (NAME.1 … NAME.N), each supervised and checked.
    ///
    /// Each copy gets BACKSTOP_INSTANCE (1…N) and, with `port`, the port
    /// `port + i - 1` (as PORT and BACKSTOP_PORT). Lasts until the daemon
    /// restarts or the file's `instances` of the service changes; write
    /// `instances = N` in backstop.toml to keep it.
    Scale {
        /// The service, as backstop.toml declares it (`api`, not `api.2`).
        service: String,
        /// How many copies: 1 to 256.
        instances: u32,
        /// Return as soon as the copies are added, without waiting for them to start.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show each service's state, pid, uptime, restarts, last exit and memory.
    Status {
        /// Only these services.
        services: Vec<String>,
        /// Ask another host's daemon over its TCP API: `http://HOST:PORT`, its
        /// `[daemon] listen` address (needs its token: --token-file).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
        /// The file holding the remote daemon's API token (with --remote).
        #[arg(long, value_name = "FILE", requires = "remote")]
        token_file: Option<std::path::PathBuf>,
    },
    /// Re-read the config; restart only the services whose definition changed.
    Reload,
    /// List the scheduled jobs: schedule, state, last run and its result, next run.
    ///
    /// Jobs are `[jobs.NAME]` tables (`schedule = "0 2 * * *"` or `every =
    /// "6h"`), run by the daemon under the name `job:NAME` (`backstop logs
    /// job:NAME`, `backstop events job:NAME`). A failed run raises the
    /// `job-failed` alert, a job without a successful run within
    /// `missed_after` the `job-missed` alert. Without a daemon, shows the
    /// file's schedules.
    Jobs,
    /// Run a scheduled job now, wait for it and print how it ended (exit 0 when it succeeded, 1 when not).
    ///
    /// The run is recorded like a scheduled one. With `concurrency = "skip"`
    /// or `"queue"` alike, a run asked for while one goes on starts when that
    /// one ends.
    RunJob {
        /// The job, as `[jobs.NAME]` names it (`backup` or `job:backup`).
        job: String,
        /// Return once the run is started, without waiting for its end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show service logs: the last lines, a time range, a search; -f follows.
    ///
    /// Reads .backstop/logs/ directly (no daemon needed), rotated and
    /// compressed files included. Several services are merged in time order.
    /// Without -n, --since or --grep, shows the last 50 lines. -f follows
    /// through rotations. With --json, one object per line: service, at,
    /// stream, line.
    Logs(LogsArgs),
    /// Show the event history: starts, exits, restarts, health changes, lost output.
    ///
    /// Reads .backstop/events.db directly (no daemon needed). Without --since
    /// or -n, shows the newest 50. With --json, one object per line: at,
    /// service, kind, message.
    Events(EventsArgs),
    /// Run every health check once, now (no daemon needed).
    ///
    /// Runs the [[services.NAME.health]] checks and [checks.NAME] entries in
    /// parallel and prints name, kind, status, latency and detail. Exit 0
    /// healthy, 1 degraded (a [checks] entry fails), 2 unhealthy (a check of
    /// a supervised service fails): usable from cron and CI.
    Check {
        /// Only these services or checks.
        names: Vec<String>,
    },
    /// Name a service's root cause, with the evidence, and write a redacted bundle.
    ///
    /// Without SERVICE, diagnoses every service that is not healthy. Works
    /// with or without a daemon and changes nothing: it reads the status,
    /// events and logs, runs every check and the service's `preflight`
    /// commands, and writes .backstop/diagnostics/<service>-<UTC time>/
    /// with numbered files (01-summary.md first), secrets masked. The first
    /// line printed is the verdict: `SERVICE: CAUSE-ID: summary`. Exit 0
    /// when healthy (or stopped with nothing against it), 1 when a fault
    /// was found. The daemon also diagnoses by itself when a service
    /// enters crash-loop or startup-timeout (`backstop events --kind
    /// diagnosed`). Cause ids and the --json shape: docs/diagnose.md.
    Diagnose(DiagnoseArgs),
    /// Run a remediation playbook on a service, and verify the result.
    ///
    /// The daemon runs the playbook's steps in order (stop, kill-leftovers,
    /// free-port, clear-cache, rotate-logs, start, wait-healthy, verify,
    /// exec, notify, diagnose), says each before it acts (`backstop events
    /// --kind fix`), and answers with a report, also written as a JSON file
    /// beside the diagnostic bundles. Built in: `clean-restart` (stop, kill
    /// leftovers, clear __pycache__, rotate logs above 50 MB, start, wait
    /// until healthy, verify for 30 s) and `free-port` (stop a leftover of
    /// the service holding its port, start, verify); `[playbooks.NAME]`
    /// adds more. --dry-run says exactly what would happen (pids, files,
    /// sizes) and changes nothing. Without PLAYBOOK, `fix` diagnoses first
    /// and proposes the playbook for the cause (`free-port` for a port held
    /// by a leftover, `clean-restart` for a crash or a missing module,
    /// `restart-dependency` for a dependency down); causes that need an
    /// edit propose none and say what to edit. Exit 0 when every step
    /// passed, 1 otherwise. docs/fix.md.
    Fix(FixArgs),
    /// List every backstop daemon of this user that runs, across projects.
    Ls,
    /// Print a shell completion script: `backstop completions bash > /etc/bash_completion.d/backstop`.
    ///
    /// bash and fish also complete service names, from the config the
    /// command would use (`backstop restart a<TAB>`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (troff): `backstop man | man -l -`.
    Man,
    /// Start this config's daemon at boot with a systemd unit (like `pm2 startup`).
    ///
    /// `install` writes backstop-<dir>-<id>.service (as root in
    /// /etc/systemd/system, else a user unit in ~/.config/systemd/user),
    /// then enables and starts it; `uninstall` stops, disables and removes it.
    Boot {
        #[command(subcommand)]
        action: BootAction,
    },
    /// Make a backstop.toml from what you run today: a Procfile, a supervisord
    /// config, a PM2 ecosystem file (or `pm2 jlist` JSON), a docker-compose
    /// file, systemd units.
    ///
    /// What maps becomes keys; what does not is a `# not imported:` comment
    /// next to the service. The result is checked as `validate` would before
    /// it is written (default ./backstop.toml; `--out -` prints it).
    Import(ImportArgs),
    /// Write the config for another engine (systemd, Kubernetes, Prometheus) or as a runbook.
    ///
    /// `export systemd` writes one unit per service with the same meaning
    /// (command, dir, user, env, restart policy and backoff, restart budget,
    /// dependencies, stop signal/mode/timeout, limits), a timer that runs
    /// its liveness checks with `backstop check`, and a target that starts
    /// them all. What systemd cannot express is a comment in the unit and a
    /// warning on stderr. `export kubernetes` writes a Deployment per service
    /// (a Service with a port), a Secret for env values, probes from the
    /// checks, resources from limits, init containers for dependencies.
    Export {
        #[command(subcommand)]
        target: ExportTarget,
    },
    #[command(hide = true, name = "__services")]
    /// Internal: the service names, for shell completion.
    Services,
    #[command(hide = true)]
    /// Internal: the detached daemon process started by `up -d`.
    Daemon {
        /// Services to start.
        services: Vec<String>,
    },
}

/// `up` options.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Only these services (with their dependencies); default: all.
    pub(crate) services: Vec<String>,
    /// Run in the background and return once the services are started.
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// With -d: how long to wait for the services to start.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) wait: std::time::Duration,
}

/// `logs` options.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Only these services (default: all).
    pub(crate) services: Vec<String>,
    /// Show the last N lines (of all selected services together).
    #[arg(short = 'n', long = "lines")]
    pub(crate) lines: Option<usize>,
    /// Keep printing new lines as they are written.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Only lines since a time: "10m" (ago) or "2026-11-22T10:00:00Z".
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only lines before a time (same forms as --since).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Only lines matching this regular expression ((?i) for any case).
    #[arg(long)]
    pub(crate) grep: Option<String>,
    /// Only stdout or stderr.
    #[arg(long)]
    pub(crate) stream: Option<String>,
}

/// `diagnose` options.
#[derive(Debug, Args)]
pub(crate) struct DiagnoseArgs {
    /// The service (default: every service that is not healthy).
    pub(crate) service: Option<String>,
    /// Write bundles under this directory instead of .backstop/diagnostics/.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Also write each bundle as <bundle>.tar.gz.
    #[arg(long)]
    pub(crate) archive: bool,
    /// No progress display.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Internal: print only the verdict and the bundle on one line (the
    /// daemon's automatic diagnosis records it as an event).
    #[arg(long, hide = true)]
    pub(crate) event: bool,
}

/// `fix` options.
#[derive(Debug, Args)]
pub(crate) struct FixArgs {
    /// The service.
    pub(crate) service: String,
    /// The playbook: clean-restart, free-port, restart-dependency, or one
    /// of [playbooks]. Without it: diagnose first, show the verdict and the
    /// playbook that fixes it, and run it after a yes (or with --yes).
    pub(crate) playbook: Option<String>,
    /// Say what would happen; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Without PLAYBOOK: run the playbook the diagnosis proposes without asking.
    #[arg(short, long)]
    pub(crate) yes: bool,
}

/// `events` options.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only this service's events (as `backstop logs api`).
    #[arg(value_name = "SERVICE", conflicts_with = "service")]
    pub(crate) only: Option<String>,
    /// Only this service's events.
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// Only events since a time: "1h" (ago) or "2026-11-22T10:00:00Z".
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only these kinds (repeat, or separate with commas): exited, crash-loop, …
    #[arg(long = "kind", value_delimiter = ',')]
    pub(crate) kinds: Vec<String>,
    /// At most N events, the newest.
    #[arg(short = 'n', long = "lines")]
    pub(crate) lines: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The files: Procfile, supervisord.conf, ecosystem.config.js, apps.json,
    /// docker-compose.yml, NAME.service (several are merged).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<std::path::PathBuf>,
    /// What the files are (default: told from their names and content).
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::import::Format>,
    /// Where to write the config (`-`: print it).
    #[arg(long, short = 'o', default_value = "backstop.toml")]
    pub(crate) out: std::path::PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub(crate) force: bool,
}

/// What `export` writes.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ExportTarget {
    /// systemd units: PREFIX-NAME.service per service, PREFIX-NAME-check.{service,timer}
    /// for liveness checks, PREFIX.target for them all.
    Systemd(ExportSystemdArgs),
    /// Kubernetes manifests: a Deployment per service (+ a Service with a port), env values in a
    /// Secret, checks as probes, limits as resources, dependencies as init containers, and a
    /// kustomization.yaml (`kubectl apply -k DIR`).
    Kubernetes(ExportKubernetesArgs),
    /// Prometheus: a scrape config for every host's backstop and alerting rules that say what
    /// backstop's own alerts say, with this config's thresholds (Alertmanager as the sink).
    Prometheus(ExportPrometheusArgs),
    /// RUNBOOK.md: the operations document, derived from the config (start order as a Mermaid
    /// diagram, checks with the commands to run them by hand, logs, limits, alerts, playbooks,
    /// how to diagnose, escalation). No secret is written.
    Runbook {
        /// Write RUNBOOK.md into this directory; without it, print it.
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
        /// The title's name for the system (default: the config's directory name).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportPrometheusArgs {
    /// Write the files into this directory (created); without it, print them.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// A backstop to scrape, HOST:PORT of its `[daemon] listen` (repeat it for every host;
    /// default: this config's listen address).
    #[arg(long = "host", value_name = "HOST:PORT")]
    pub(crate) hosts: Vec<String>,
    /// Alertmanager's address.
    #[arg(long, value_name = "HOST:PORT", default_value = "localhost:9093")]
    pub(crate) alertmanager: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportKubernetesArgs {
    /// Write the files into this directory (created); without it, print them.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// The `app.kubernetes.io/part-of` label (default: the config's directory name).
    #[arg(long)]
    pub(crate) prefix: Option<String>,
    /// The image the containers run, holding the project at /app (default: PREFIX:latest).
    #[arg(long)]
    pub(crate) image: Option<String>,
    /// The image of the init containers that wait for a dependency's port.
    #[arg(long, value_name = "IMAGE", default_value = "busybox:1.36")]
    pub(crate) wait_image: String,
    /// Only these services (default: all).
    pub(crate) services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportSystemdArgs {
    /// Write the files into this directory (created); without it, print them.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// The units' name prefix (default: the config's directory name).
    #[arg(long)]
    pub(crate) prefix: Option<String>,
    /// The systemd version the units are for (default: this machine's,
    /// else 254); RestartSteps= needs 254.
    #[arg(long, value_name = "N")]
    pub(crate) systemd_version: Option<u32>,
    /// The backstop binary the check units run (default: this one).
    #[arg(long, value_name = "PATH")]
    pub(crate) backstop: Option<std::path::PathBuf>,
    /// Only these services (default: all).
    pub(crate) services: Vec<String>,
}

/// What `boot` does.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BootAction {
    /// Write the unit, then enable and start it.
    Install(BootArgs),
    /// Stop and disable the unit, then remove it.
    Uninstall(BootArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct BootArgs {
    /// Print the unit instead of installing it.
    #[arg(long)]
    pub(crate) print: bool,
    /// Write (or remove) the unit in this directory instead of systemd's.
    #[arg(long, value_name = "DIR")]
    pub(crate) unit_dir: Option<std::path::PathBuf>,
    /// Only write (or remove) the file; do not call systemctl.
    #[arg(long)]
    pub(crate) no_enable: bool,
}

/// Services to act on.
#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    /// The services (`all`: every service of the config).
    #[arg(required_unless_present = "all")]
    pub(crate) services: Vec<String>,
    /// Every service of the config (as the name `all`).
    #[arg(long, conflicts_with = "services")]
    pub(crate) all: bool,
    /// Return as soon as the request is taken, without waiting for the result.
    #[arg(long)]
    pub(crate) no_wait: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    backstop_config::parse_duration(text)
        .ok_or_else(|| format!("expected a duration such as \"30s\" or \"2m\", found \"{text}\""))
}
