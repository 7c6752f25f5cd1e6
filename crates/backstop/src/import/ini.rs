//! The INI dialects of supervisord and systemd: `[section]`, `key = value`
//! (systemd: `Key=Value`, repeatable), `;`/`#` comments, and continuation
//! lines (an indented line in supervisord, a trailing `\` in systemd).

/// One `[section]` with its keys in order (a key may repeat).
#[derive(Debug, Default)]
pub(crate) struct Section {
    pub(crate) name: String,
    pub(crate) entries: Vec<(String, String)>,
}

impl Section {
    /// The last value of `key` (later lines override earlier ones).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Splits `text` into sections.
pub(crate) fn parse(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        // supervisord: an indented line continues the previous value.
        if raw.starts_with([' ', '\t']) && !raw.trim().is_empty() && pending.is_empty() {
            if let Some((_, v)) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                v.push('\n');
                v.push_str(raw.trim());
                continue;
            }
        }
        let line = raw.trim();
        // systemd: a trailing backslash joins the next line.
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        let line = if pending.is_empty() {
            line.to_string()
        } else {
            let joined = format!("{pending}{line}");
            pending.clear();
            joined
        };
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(Section {
                name: name.trim().to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if let Some(section) = sections.last_mut() {
            // supervisord allows ` ;comment` after a value.
            let v = v.split(" ;").next().unwrap_or(v);
            section
                .entries
                .push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    sections
}
