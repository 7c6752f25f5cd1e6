//! `backstop completions SHELL`: clap's completion script, and for bash
//! and fish a hook that completes service names from the config the
//! command would use (`backstop restart a<TAB>` → `api`), through the
//! hidden `backstop __services`.

use std::io::Write;

use crate::cli::Cli;

/// The subcommands whose positional arguments are service names.
const TAKE_SERVICES: &str = "start stop restart status logs events diagnose fix scale up";

/// Prints the completion script for `shell`.
pub(crate) fn print(shell: clap_complete::Shell) {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "backstop", &mut out);
    let hook = match shell {
        clap_complete::Shell::Bash => BASH.replace("@SUBCOMMANDS@", TAKE_SERVICES),
        clap_complete::Shell::Fish => FISH.replace("@SUBCOMMANDS@", TAKE_SERVICES),
        _ => return,
    };
    let _ = out.write_all(hook.as_bytes());
}

const BASH: &str = r#"
# Service names, from the config `backstop` would use here (-c honoured).
_backstop_services() {
    local i cur="${COMP_WORDS[COMP_CWORD]}" sub="" config=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c|--config) config=(-c "${COMP_WORDS[i+1]}"); ((i++)) ;;
            -*) ;;
            *) [ -z "$sub" ] && sub="${COMP_WORDS[i]}" ;;
        esac
    done
    case " @SUBCOMMANDS@ " in
        *" $sub "*)
            if [ -n "$sub" ] && [[ "$cur" != -* ]]; then
                COMPREPLY=($(compgen -W "$(backstop "${config[@]}" __services 2>/dev/null)" -- "$cur"))
                return 0
            fi
            ;;
    esac
    _backstop "$@"
}
complete -F _backstop_services -o bashdefault -o default backstop
"#;

const FISH: &str = r#"
# Service names, from the config `backstop` would use here.
complete -c backstop -n "__fish_seen_subcommand_from @SUBCOMMANDS@" -f -a "(backstop __services 2>/dev/null)"
"#;

/// `backstop __services`: the names a command takes, one per line
/// (services, copies, and the names of services with `instances`).
pub(crate) fn services(config: &backstop_config::Config) {
    let mut names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    names.extend(
        config
            .declared
            .iter()
            .filter(|s| s.instances.is_some())
            .map(|s| s.name.as_str()),
    );
    names.sort_unstable();
    names.dedup();
    let mut out = std::io::stdout().lock();
    for n in names {
        let _ = writeln!(out, "{n}");
    }
}
