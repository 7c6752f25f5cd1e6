//! Diagnosis of arbitrary output: any lines are named or called `crashed`,
//! never a panic (the classifier slices text by what its patterns found).
#![no_main]
use libfuzzer_sys::fuzz_target;

/// Built once: its rules are a few hundred compiled patterns.
static DIAGNOSER: std::sync::LazyLock<backstop_diagnose::Diagnoser> =
    std::sync::LazyLock::new(backstop_diagnose::Diagnoser::new);

fuzz_target!(|input: (&str, &str)| {
    let (output, env) = input;
    let evidence: Vec<backstop_diagnose::Evidence> = output
        .lines()
        .take(400)
        .enumerate()
        .map(|(i, t)| backstop_diagnose::Evidence {
            source: "05-logs.txt".into(),
            line: Some(i + 1),
            text: t.to_string(),
        })
        .collect();
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ctx = backstop_diagnose::Context {
        known: backstop_diagnose::address::Known::from_env(
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        env: vars.clone(),
        exit: Some("code 1".into()),
        ..backstop_diagnose::Context::default()
    };
    let _ = DIAGNOSER.diagnose_in(&evidence, &ctx);
    let _ = backstop_diagnose::crashed_in(&evidence, &evidence, ctx.exit.as_deref());
});
