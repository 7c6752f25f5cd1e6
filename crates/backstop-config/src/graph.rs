//! The dependency graph between services: validation and ordering.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::Diagnostic;
use crate::load::DependencySpans;
use crate::model::{Config, ServiceConfig};
use crate::reader::{Reader, suggest};

/// Reports dependencies on unknown services and dependency cycles.
pub(crate) fn check_dependencies(
    r: &mut Reader,
    services: &[ServiceConfig],
    spans: &BTreeMap<String, DependencySpans>,
    declared: &BTreeSet<String>,
    check_names: &BTreeSet<String>,
    all_read: bool,
) {
    let names: BTreeSet<&str> = declared
        .iter()
        .chain(check_names)
        .map(String::as_str)
        .collect();
    let mut graph_ok = true;
    for service in services {
        for (dep, span) in spans.get(&service.name).into_iter().flatten() {
            let condition = service
                .depends_on
                .iter()
                .find(|d| &d.service == dep)
                .map(|d| d.condition);
            if check_names.contains(dep) && !declared.contains(dep) {
                // A [checks] entry: the only thing to wait for is its passing.
                if condition != Some(crate::model::DependencyCondition::Healthy) {
                    r.error(Diagnostic::error(
                        format!(
                            "service `{}` waits for check `{dep}` to be {}",
                            service.name,
                            condition.map_or("started", |c| c.as_str())
                        ),
                        span.clone(),
                        "a [checks] entry can only be \"healthy\"",
                    ));
                    graph_ok = false;
                }
                continue;
            }
            if dep == &service.name {
                r.error(Diagnostic::error(
                    format!("service `{}` depends on itself", service.name),
                    span.clone(),
                    "a service cannot wait for itself",
                ));
                graph_ok = false;
            } else if !names.contains(dep.as_str()) {
                let mut d = Diagnostic::error(
                    format!(
                        "service `{}` depends on unknown service `{dep}`",
                        service.name
                    ),
                    span.clone(),
                    "no service has this name",
                );
                d = match suggest(dep, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "the services are: {}",
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                };
                r.error(d);
                graph_ok = false;
            }
        }
    }
    // A cycle search over a partly read config would report half-truths.
    if !graph_ok || !all_read {
        return;
    }
    if let Some(cycle) = find_cycle(services) {
        let first = &cycle[0];
        let second = &cycle[1];
        let span = spans
            .get(first)
            .and_then(|deps| deps.iter().find(|(d, _)| d == second))
            .map_or(0..0, |(_, s)| s.clone());
        r.error(
            Diagnostic::error(
                format!("dependency cycle: {}", cycle.join(" → ")),
                span,
                "this dependency closes the cycle",
            )
            .with_help("no service in a cycle could ever start; remove one of these dependencies"),
        );
    }
}

/// A cycle as a path `a → b → … → a`, if the graph has one.
fn find_cycle(services: &[ServiceConfig]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        by_name: &BTreeMap<&'a str, &'a ServiceConfig>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Active => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|s| (*s).to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(name, Mark::Active);
        path.push(name);
        if let Some(service) = by_name.get(name) {
            for dep in &service.depends_on {
                if let Some(cycle) = visit(dep.service.as_str(), by_name, marks, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let by_name: BTreeMap<&str, &ServiceConfig> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut marks = BTreeMap::new();
    for service in services {
        let mut path = Vec::new();
        if let Some(cycle) = visit(service.name.as_str(), &by_name, &mut marks, &mut path) {
            return Some(cycle);
        }
    }
    None
}

impl Config {
    /// `names` (a service with `instances`: its copies) and everything
    /// they depend on, transitively, in config order.
    ///
    /// Unknown names are returned in the `Err`.
    pub fn with_dependencies(&self, names: &[String]) -> Result<Vec<String>, Vec<String>> {
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| self.members(n).is_empty())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        let mut wanted: BTreeSet<&str> = BTreeSet::new();
        // A service with `instances` is every copy of it.
        let mut todo: Vec<&str> = names
            .iter()
            .flat_map(|n| self.members(n))
            .map(|s| s.name.as_str())
            .collect();
        while let Some(name) = todo.pop() {
            if wanted.insert(name)
                && let Some(s) = self.service(name)
            {
                todo.extend(s.depends_on.iter().map(|d| d.service.as_str()));
            }
        }
        Ok(self
            .services
            .iter()
            .filter(|s| wanted.contains(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect())
    }

    /// The services that depend directly on `name`.
    pub fn dependents_of(&self, name: &str) -> Vec<&str> {
        self.services
            .iter()
            .filter(|s| s.depends_on.iter().any(|d| d.service == name))
            .map(|s| s.name.as_str())
            .collect()
    }
}
