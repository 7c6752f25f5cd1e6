//! A Procfile (Heroku, foreman, honcho): `name: command` per line. Each
//! process gets `PORT` as foreman gives it (5000, 5100, …) when its
//! command uses `$PORT`, and backstop checks that port before each start.

use super::draft::{Draft, DraftService, command_line, service_name};

pub(crate) fn import(text: &str, draft: &mut Draft) {
    let mut port = 5000u16;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = line.split_once(':') else {
            draft.notes.push(format!(
                "line {}: `{line}` is not `name: command`",
                number + 1
            ));
            continue;
        };
        let mut s = DraftService {
            name: service_name(name),
            command: command_line(command),
            ..DraftService::default()
        };
        if command.contains("$PORT") || command.contains("${PORT}") {
            s.env.insert("PORT".to_string(), port.to_string());
            s.port = Some(port);
            port = port.saturating_add(100);
        }
        if name.trim() == "release" {
            s.restart = Some("never");
            s.notes.push(
                "`release` runs once per deploy on Heroku: here it is a one-shot job; make the others `depends_on = { release = \"completed\" }` if they need it first".to_string(),
            );
        }
        draft.services.push(s);
    }
}
