//! `backstop export kubernetes`: a Deployment per service (a Service too
//! when it has a `port`), its env values in a Secret, its checks as
//! probes, its limits as resources, its dependencies as init containers.
//!
//! | backstop | Kubernetes |
//! |---|---|
//! | `command`, `dir` | the container's `command`, `workingDir` (`/app` + the dir relative to the config) |
//! | `instances`, `disabled = true` | `replicas` (0 when disabled) |
//! | `port` | `containerPort`, and a `Service` of the same name |
//! | `env` (not secret-named) | `env` |
//! | `env_file` values, secret-named `env` | a `Secret` NAME-env (`stringData`), `envFrom.secretRef`: no value in the Deployment |
//! | http / tcp / exec checks | `httpGet` / `tcpSocket` / `exec` probes: the first check is the `readinessProbe`, the first `on_failure = "restart"` one the `livenessProbe`; `interval`, `timeout`, `failures`, `successes` |
//! | `startup` | a `startupProbe` with the readiness handler, `startup / interval` failures allowed |
//! | `limits` memory_warn / memory_max / cpu_max | `resources.requests.memory` / `limits.memory` / `limits.cpu` |
//! | `depends_on` started / healthy | an init container that waits for the dependency's Service port |
//! | `depends_on` completed (a job) | the job's command as an init container of the dependent |
//! | `stop.timeout`, `stop.command` | `terminationGracePeriodSeconds`, `lifecycle.preStop` |
//! | `pre_start` | an init container running it |
//!
//! Kubernetes runs images, backstop runs commands: the Deployments run
//! `--image` (default `PREFIX:latest`), which must hold the project at
//! `/app`. What does not map is a warning: restart policies and budgets
//! (pods always restart, with Kubernetes' own backoff), stop signals,
//! users, `post_stop`, database and cache checks, PostgreSQL and Redis
//! run as Deployments (a StatefulSet or a managed service is the way).

use std::path::Path;
use std::time::Duration;

use backstop_config::{
    Config, DependencyCondition, OnFailure, Probe, RestartPolicy, ServiceConfig,
};
use serde_json::{Value, json};

use super::yaml::to_yaml;
use super::{Export, object_name};

/// How to write the manifests.
pub(crate) struct Options {
    /// Labels `app.kubernetes.io/part-of`, and the default image's name.
    pub(crate) prefix: String,
    /// The image every container runs.
    pub(crate) image: String,
    /// The image of the init containers that wait for a port.
    pub(crate) wait_image: String,
    /// Only these services (empty: all).
    pub(crate) only: Vec<String>,
}

/// Whole seconds, rounded up, at least 1 (probes and grace periods count in seconds).
fn seconds(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Every manifest for `config`.
pub(crate) fn export(config: &Config, options: &Options) -> Export {
    let mut out = Export::default();
    out.warnings.push(format!(
        "the containers run the image `{}`: build it with your code at /app (backstop runs commands, Kubernetes runs images), or pass --image",
        options.image
    ));
    let jobs: Vec<&ServiceConfig> = config
        .declared
        .iter()
        .filter(|s| is_job(config, s))
        .collect();
    let mut resources = Vec::new();
    for j in config.jobs() {
        let bare = j.name.trim_start_matches(backstop_config::JOB_PREFIX);
        if !(options.only.is_empty() || options.only.iter().any(|o| o == bare || *o == j.name)) {
            continue;
        }
        let mut notes = Vec::new();
        let name = object_name(&format!("job-{bare}"));
        let (secret, env) = environment(j, &name, &mut notes);
        match cron_job(
            config,
            options,
            j,
            &name,
            &env,
            secret.is_some(),
            &mut notes,
        ) {
            Ok(doc) => add(&mut out, &mut resources, &name, to_yaml(&doc), secret),
            Err(why) => notes.push(format!("{why}; write its CronJob by hand")),
        }
        out.warnings
            .extend(notes.into_iter().map(|n| format!("{}: {n}", j.name)));
    }
    for s in &config.declared {
        if !(options.only.is_empty() || options.only.contains(&s.name)) {
            continue;
        }
        if jobs.iter().any(|j| j.name == s.name) {
            out.warnings.push(format!(
                "{}: others wait for it to complete: it runs as an init container of each of them, not as a Deployment",
                s.name
            ));
            continue;
        }
        let mut notes = Vec::new();
        let name = object_name(&s.name);
        let (secret, env) = environment(s, &name, &mut notes);
        let mut docs = vec![deployment(
            config,
            options,
            s,
            &name,
            &env,
            secret.is_some(),
            &mut notes,
        )];
        if let Some(port) = exposed_port(s) {
            docs.push(service(options, &name, port));
        }
        let text = docs.iter().map(to_yaml).collect::<Vec<_>>().join("---\n");
        add(&mut out, &mut resources, &name, text, secret);
        out.warnings
            .extend(notes.into_iter().map(|n| format!("{}: {n}", s.name)));
    }
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        "labels": [{"pairs": {"app.kubernetes.io/part-of": options.prefix}}],
    });
    out.files.push((
        "kustomization.yaml".to_string(),
        format!(
            "# Written by `backstop export kubernetes` from {}: `kubectl apply -k .`\n{}",
            config.path.display(),
            to_yaml(&kustomization)
        ),
    ));
    out
}

/// Writes `NAME.yaml` (and the workload's `NAME-env.secret.yaml`) and
/// lists them for the kustomization.
fn add(
    out: &mut Export,
    resources: &mut Vec<String>,
    name: &str,
    text: String,
    secret: Option<Value>,
) {
    let file = format!("{name}.yaml");
    out.files.push((file.clone(), text));
    resources.push(file);
    if let Some(secret) = secret {
        let file = format!("{name}-env.secret.yaml");
        out.files.push((file.clone(), to_yaml(&secret)));
        resources.push(file);
    }
}

/// Is `s` a job others wait to complete?
fn is_job(config: &Config, s: &ServiceConfig) -> bool {
    config.declared.iter().any(|o| {
        o.depends_on
            .iter()
            .any(|d| d.service == s.name && d.condition == DependencyCondition::Completed)
    })
}

/// The Secret of the env file's values and the secret-named variables
/// (`None` when there are none), and the container's plain `env`.
fn environment(
    s: &ServiceConfig,
    name: &str,
    notes: &mut Vec<String>,
) -> (Option<Value>, Vec<Value>) {
    let mut secret = serde_json::Map::new();
    if let Some(file) = &s.env_file {
        match backstop_config::read_env_file(file) {
            Ok(vars) => {
                for (k, v) in vars {
                    secret.insert(k, Value::String(v));
                }
            }
            Err(e) => notes.push(format!(
                "env_file {} cannot be read ({e}): its variables are not in the Secret",
                file.display()
            )),
        }
    }
    let mut env = Vec::new();
    for (k, v) in &s.env.0 {
        if backstop_diagnose::redact::is_secret_name(k) {
            secret.insert(k.clone(), Value::String(v.clone()));
        } else {
            env.push(json!({"name": k, "value": v}));
        }
    }
    let secret = (!secret.is_empty()).then(|| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": format!("{name}-env"), "labels": {"app.kubernetes.io/name": name}},
            "type": "Opaque",
            "stringData": secret,
        })
    });
    (secret, env)
}

/// A probe's handler for a check, if Kubernetes has one for it.
fn handler(check: &backstop_config::HealthCheck, notes: &mut Vec<String>) -> Option<Value> {
    match &check.probe {
        Probe::Http(h) => {
            let Some((scheme, host, port, path)) = split_url(&h.url) else {
                notes.push(format!(
                    "check {}: `{}` is not a URL a probe can use",
                    check.name, h.url
                ));
                return None;
            };
            if !is_local(&host) {
                notes.push(format!(
                    "check {}: a probe asks its own pod, not {host}",
                    check.name
                ));
            }
            if !h.json.is_empty() || h.body.is_some() {
                notes.push(format!(
                    "check {}: httpGet only looks at the status (200–399); its body and JSON conditions are not exported",
                    check.name
                ));
            }
            let mut get = json!({"path": path, "port": port, "scheme": scheme});
            if !h.headers.0.is_empty() {
                get["httpHeaders"] = h
                    .headers
                    .0
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect();
            }
            Some(json!({"httpGet": get}))
        }
        Probe::Tcp { address } => {
            let (host, port) = address.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            if !is_local(host.trim_matches(['[', ']'])) {
                notes.push(format!(
                    "check {}: a probe asks its own pod, not {host}",
                    check.name
                ));
            }
            Some(json!({"tcpSocket": {"port": port}}))
        }
        Probe::Exec { command } => Some(json!({"exec": {"command": command}})),
        Probe::Postgres { .. } | Probe::Redis { .. } | Probe::Process(_) | Probe::Disk { .. } => {
            if check.name != "limits" {
                notes.push(format!(
                    "check {} ({}) has no probe equivalent: not exported",
                    check.name,
                    kind(&check.probe)
                ));
            }
            None
        }
    }
}

fn kind(p: &Probe) -> &'static str {
    match p {
        Probe::Http(_) => "http",
        Probe::Tcp { .. } => "tcp",
        Probe::Exec { .. } => "exec",
        Probe::Postgres { .. } => "postgres",
        Probe::Redis { .. } => "redis",
        Probe::Process(_) => "process",
        Probe::Disk { .. } => "disk",
    }
}

fn is_local(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "0.0.0.0")
}

/// `(HTTP|HTTPS, host, port, path?query)` of a URL.
fn split_url(url: &str) -> Option<(&'static str, String, u16, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "http" => ("HTTP", 80),
        "https" => ("HTTPS", 443),
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)
        }
        _ => (authority.to_string(), default_port),
    };
    Some((scheme, host, port, path))
}

fn probe(handler: &Value, check: &backstop_config::HealthCheck, liveness: bool) -> Value {
    let mut p = handler.clone();
    p["periodSeconds"] = json!(seconds(check.interval));
    p["timeoutSeconds"] = json!(seconds(check.timeout));
    p["failureThreshold"] = json!(check.failures.max(1));
    // Kubernetes wants 1 for liveness and startup probes.
    p["successThreshold"] = json!(if liveness { 1 } else { check.successes.max(1) });
    p
}

/// Does the service run a database or cache a Deployment is wrong for?
fn stateful(s: &ServiceConfig) -> Option<&'static str> {
    let line = s.command.join(" ");
    if line.contains("postgres") || line.contains("pg_ctl") {
        Some("PostgreSQL")
    } else if line.contains("redis-server") {
        Some("Redis")
    } else if line.contains("mysqld") || line.contains("mariadbd") {
        Some("MySQL")
    } else {
        None
    }
}

#[allow(clippy::too_many_lines, reason = "one container, key by key")]
fn deployment(
    config: &Config,
    options: &Options,
    s: &ServiceConfig,
    name: &str,
    env: &[Value],
    has_secret: bool,
    notes: &mut Vec<String>,
) -> Value {
    let mut container = json!({
        "name": name,
        "image": options.image,
        "command": s.command,
        "workingDir": working_dir(config, &s.dir),
    });
    if !env.is_empty() {
        container["env"] = json!(env);
    }
    if has_secret {
        container["envFrom"] = json!([{"secretRef": {"name": format!("{name}-env")}}]);
    }
    if let Some(port) = s.port {
        container["ports"] = json!([{"containerPort": port, "name": "main"}]);
    }
    // Probes: the first readiness check (`on_failure = "report"`) that maps
    // is the readiness probe (the first check of any kind without one), the
    // first liveness check the liveness probe; a container has one of each.
    let mapped: Vec<(Value, &backstop_config::HealthCheck)> = s
        .health
        .iter()
        .filter_map(|c| handler(c, notes).map(|h| (h, c)))
        .collect();
    let readiness = mapped
        .iter()
        .find(|(_, c)| c.on_failure == OnFailure::Report)
        .or_else(|| mapped.first())
        .cloned();
    let liveness = mapped
        .iter()
        .find(|(_, c)| c.on_failure == OnFailure::Restart)
        .cloned();
    for (_, c) in &mapped {
        let used = |p: &Option<(Value, &backstop_config::HealthCheck)>| {
            p.as_ref().is_some_and(|(_, u)| std::ptr::eq(*u, *c))
        };
        if !used(&readiness) && !used(&liveness) {
            notes.push(format!(
                "check {}: a container has one probe of each kind; only the first is exported",
                c.name
            ));
        }
    }
    if let Some((h, c)) = &readiness {
        container["readinessProbe"] = probe(h, c, false);
        if let Some(startup) = s.startup {
            let period = seconds(c.interval);
            let mut p = probe(h, c, true);
            p["failureThreshold"] = json!(seconds(startup).div_ceil(period).max(1));
            container["startupProbe"] = p;
        }
    }
    if let Some((h, c)) = &liveness {
        container["livenessProbe"] = probe(h, c, true);
    }
    let l = &s.limits;
    let mut limits = serde_json::Map::new();
    let mut requests = serde_json::Map::new();
    if let Some(b) = l.memory_max {
        limits.insert("memory".into(), json!(b.to_string()));
    }
    if let Some(p) = l.cpu_max {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        limits.insert(
            "cpu".into(),
            json!(format!("{}m", (p * 10.0).round() as u64)),
        );
    }
    if let Some(b) = l.memory_warn {
        requests.insert("memory".into(), json!(b.to_string()));
    }
    if !limits.is_empty() || !requests.is_empty() {
        let mut r = serde_json::Map::new();
        if !limits.is_empty() {
            r.insert("limits".into(), Value::Object(limits));
        }
        if !requests.is_empty() {
            r.insert("requests".into(), Value::Object(requests));
        }
        container["resources"] = Value::Object(r);
    }
    if l.nofile.is_some() || l.pids_max.is_some() || l.cpu_warn.is_some() {
        notes.push(
            "limits nofile, pids_max and cpu_warn have no container equivalent: not exported"
                .to_string(),
        );
    }
    if let Some(c) = &s.stop.command {
        container["lifecycle"] = json!({"preStop": {"exec": {"command": c}}});
    }
    if s.stop.signal.name != "TERM" {
        notes.push(format!(
            "stop.signal = {}: Kubernetes sends SIGTERM; have the program take it, or a preStop hook",
            s.stop.signal.name
        ));
    }
    if let Some(u) = &s.user {
        notes.push(format!(
            "user = {u}: set securityContext.runAsUser to its uid in the image"
        ));
    }
    if s.post_stop.is_some() {
        notes.push("post_stop has no Kubernetes equivalent: not exported".to_string());
    }
    if s.restart.policy != RestartPolicy::Always {
        notes.push(format!(
            "restart = {}: a Deployment's pods always restart (Kubernetes' own backoff, up to 5 min), and max_restarts has no equivalent",
            s.restart.policy.as_str()
        ));
    }
    if let Some(what) = stateful(s) {
        notes.push(format!(
            "it runs {what}: a Deployment has no storage; use a StatefulSet with a volume, or a managed {what}"
        ));
    }

    let mut init = Vec::new();
    for d in &s.depends_on {
        let Some(dep) = config.declared.iter().find(|o| o.name == d.service) else {
            continue;
        };
        let dep_name = object_name(&dep.name);
        match (d.condition, exposed_port(dep)) {
            (DependencyCondition::Completed, _) => init.push(json!({
                "name": format!("run-{dep_name}"),
                "image": options.image,
                "command": dep.command,
                "workingDir": working_dir(config, &dep.dir),
            })),
            (_, Some(port)) => init.push(json!({
                "name": format!("wait-for-{dep_name}"),
                "image": options.wait_image,
                "command": ["sh", "-c", format!("until nc -z {dep_name} {port}; do echo waiting for {dep_name}:{port}; sleep 2; done")],
            })),
            (_, None) => notes.push(format!(
                "depends_on {}: it has no port (none declared, none in its checks), so nothing waits for it (Kubernetes starts pods in any order)",
                d.service
            )),
        }
    }
    if let Some(h) = &s.pre_start {
        init.push(json!({
            "name": "pre-start",
            "image": options.image,
            "command": h.command,
            "workingDir": working_dir(config, &s.dir),
        }));
    }
    let mut pod = json!({
        "containers": [container],
        "terminationGracePeriodSeconds": seconds(s.stop.timeout),
    });
    if !init.is_empty() {
        pod["initContainers"] = json!(init);
    }
    let labels =
        json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": options.prefix});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            // disabled = true: declared, not started.
            "replicas": if s.disabled { 0 } else { s.instances.unwrap_or(1) },
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    })
}

/// A scheduled job as a `CronJob`: its pod as a service's would be, run to
/// its end (`restartPolicy: Never`, no retry), never two at once (`Forbid`,
/// as `concurrency = "skip"`), bounded by `timeout`.
fn cron_job(
    config: &Config,
    options: &Options,
    j: &ServiceConfig,
    name: &str,
    env: &[Value],
    has_secret: bool,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let spec = j.job.as_ref().ok_or("not a job")?;
    let (schedule, zone) = super::schedule::kubernetes(spec)?;
    let deployment = deployment(config, options, j, name, env, has_secret, notes);
    let mut template = deployment["spec"]["template"].clone();
    template["spec"]["restartPolicy"] = json!("Never");
    let mut job_spec = json!({"backoffLimit": 0, "template": template});
    if let Some(t) = spec.timeout {
        job_spec["activeDeadlineSeconds"] = json!(seconds(t));
    }
    let mut cron = json!({
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": job_spec},
    });
    if let Some(zone) = zone {
        cron["timeZone"] = json!(zone);
    }
    if spec.concurrency == backstop_config::Concurrency::Queue {
        notes.push(
            "concurrency = \"queue\" has no CronJob equivalent: Forbid skips a run due while one goes on"
                .to_string(),
        );
    }
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": deployment["metadata"]["labels"].clone()},
        "spec": cron,
    }))
}

fn working_dir(config: &Config, dir: &Path) -> String {
    match dir.strip_prefix(&config.base_dir) {
        Ok(rel) if rel.as_os_str().is_empty() => "/app".to_string(),
        Ok(rel) => format!("/app/{}", rel.display()),
        Err(_) => dir.display().to_string(),
    }
}

/// The port others reach the service on: its `port`, else the port its
/// own checks connect to (a database declares none, but its check names it).
fn exposed_port(s: &ServiceConfig) -> Option<u16> {
    s.port.or_else(|| {
        s.health.iter().find_map(|c| match &c.probe {
            Probe::Tcp { address } => address.rsplit_once(':')?.1.parse().ok(),
            Probe::Http(h) => split_url(&h.url).map(|(_, _, port, _)| port),
            Probe::Postgres { dsn, .. } => url_port(&dsn.0, 5432),
            Probe::Redis { url, .. } => url_port(&url.0, 6379),
            _ => None,
        })
    })
}

/// The port of `scheme://[user[:pw]@]host[:port][/…]`, or of a `port=N`
/// key=value DSN; `default` when none is written.
fn url_port(url: &str, default: u16) -> Option<u16> {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return match host.rsplit_once(':') {
            Some((_, p)) if !p.ends_with(']') => p.parse().ok(),
            _ => Some(default),
        };
    }
    url.split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .map_or(Some(default), |p| p.parse().ok())
}

fn service(options: &Options, name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": options.prefix}},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "main", "port": port, "targetPort": port}],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_an_http_probe_needs() {
        assert_eq!(
            split_url("http://127.0.0.1:8000/health?deep=1"),
            Some(("HTTP", "127.0.0.1".into(), 8000, "/health?deep=1".into()))
        );
        assert_eq!(
            split_url("https://user:pw@localhost"),
            Some(("HTTPS", "localhost".into(), 443, "/".into()))
        );
        assert_eq!(
            split_url("http://[::1]:9000/x"),
            Some(("HTTP", "::1".into(), 9000, "/x".into()))
        );
        assert_eq!(split_url("ftp://x"), None);
    }

    #[test]
    fn a_database_without_port_is_reached_on_its_checks_port() {
        assert_eq!(
            url_port("postgres://u:p@127.0.0.1:55432/db", 5432),
            Some(55432)
        );
        assert_eq!(url_port("redis://127.0.0.1", 6379), Some(6379));
        assert_eq!(
            url_port("host=127.0.0.1 port=6000 user=x", 5432),
            Some(6000)
        );
        assert_eq!(url_port("host=127.0.0.1 user=x", 5432), Some(5432));
    }

    #[test]
    fn names_follow_rfc_1123() {
        assert_eq!(object_name("API_v2.worker"), "api-v2-worker");
    }
}
