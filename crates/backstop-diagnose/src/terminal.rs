//! The *terminal error* of a failed run: the error a runtime printed last,
//! found by the shape every runtime gives it, whatever the words.
//!
//! | runtime | shape |
//! |---|---|
//! | Python | `Traceback (most recent call last):`, frames, then `Type: message`; chains joined by "The above exception was the direct cause …" |
//! | Node.js | `Error [CODE]: message` or `TypeError: message` over `    at …` frames, an object dump with `code: 'E…'`, `[cause]: …` |
//! | Java | `Exception in thread "main" type: message`, then `Caused by: type: message` (the last is the root) |
//! | Go | `panic: …`, `fatal error: …` |
//! | Rust | `thread 'main' panicked at FILE:LINE:COL:` and the message on the next line |
//! | Ruby | `FILE:LINE:in 'method': message (Type)` |
//! | Perl | `message at FILE line N.` |
//! | shell | `./start.sh: line 3: prog: not found`, `sh: 1: exec: prog: not found` |
//!
//! Extraction reads the lines once; the classification
//! ([`crate::classify`]) looks only at what is found here.

/// Which runtime printed an error, as far as its shape tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// CPython.
    Python,
    /// Node.js.
    Node,
    /// A JVM.
    Java,
    /// Go.
    Go,
    /// Rust.
    Rust,
    /// Ruby.
    Ruby,
    /// Perl.
    Perl,
    /// A shell running a wrapper script.
    Shell,
    /// PHP.
    Php,
    /// A program whose error has no shape backstop knows: its last words.
    Other,
}

impl Runtime {
    /// How a summary names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "Python",
            Self::Node => "Node.js",
            Self::Java => "Java",
            Self::Go => "Go",
            Self::Rust => "Rust",
            Self::Ruby => "Ruby",
            Self::Perl => "Perl",
            Self::Shell => "shell",
            Self::Php => "PHP",
            Self::Other => "program",
        }
    }
}

/// One error, with its type and message (and its code, for Node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raised {
    /// The exception type (`ModuleNotFoundError`, `java.net.ConnectException`,
    /// `Errno::ECONNREFUSED`), when the shape has one.
    pub kind: Option<String>,
    /// The message.
    pub message: String,
}

/// The terminal error of one failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalError {
    /// Who printed it.
    pub runtime: Runtime,
    /// The error itself (for a chain: the root cause).
    pub error: Raised,
    /// The errors it was raised from or caused by, outermost last.
    pub chain: Vec<Raised>,
    /// Lines after it that belong to it (pydantic's field list, Node's
    /// `code: 'ECONNREFUSED'`), at most a few.
    pub detail: Vec<String>,
    /// Its line's index among the lines given.
    pub index: usize,
    /// Where it was raised, when the shape says: `/app/main.py, line 7`.
    pub place: Option<String>,
    /// The lines printed just before it began (a log line saying what the
    /// program was doing, the issues a validator printed), nearest first,
    /// at most 24.
    pub before: Vec<String>,
    /// The lines between its beginning and its last line (a traceback's
    /// frames and their code), at most the last 40.
    pub stack: Vec<String>,
    /// The installed package whose code raised it (the innermost frame in
    /// `site-packages/`, `node_modules/`, a gem, a Go module): `ioredis`,
    /// `pika`, `psycopg`. A client library of a kind of server says which
    /// dependency an error of no other shape is about.
    pub library: Option<String>,
    /// The usage text printed after it (`Usage: sync --warehouse=<id> …`),
    /// its first lines: the program refused its command line.
    pub usage: Vec<String>,
    /// The innermost frame of the program's own code (not an installed
    /// package's, not the runtime's): where a bug is to be looked for,
    /// even when a library raised the error. Python, Node.js, Ruby.
    pub own_frame: Option<Frame>,
    /// The program's own module whose top-level `require` was loading the
    /// module that failed at its own top level (Node.js CommonJS:
    /// `at Object.<anonymous> (plans.js:4)`, then `at require`, then `at
    /// Object.<anonymous> (reminders.js:1)`), as `file:line`.
    pub loaded_by: Option<String>,
    /// The program's own lines printed after it, not part of it (at most
    /// 3): a piped stdout is flushed at exit, so `loading config/mailer.yml`
    /// can follow the error its stderr printed at once.
    pub after: Vec<String>,
}

/// A frame of a stack trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The function or method, when the frame names one other than the
    /// module's top level (`<module>`, `Object.<anonymous>`, `<main>`).
    pub function: Option<String>,
    /// The source file.
    pub file: String,
    /// The line in it.
    pub line: u32,
}

impl TerminalError {
    /// An error of `runtime` at line `index`: nothing chained, no detail.
    fn at(runtime: Runtime, kind: Option<String>, message: String, index: usize) -> Self {
        Self {
            runtime,
            error: Raised { kind, message },
            chain: Vec::new(),
            detail: Vec::new(),
            index,
            place: None,
            before: Vec::new(),
            stack: Vec::new(),
            library: None,
            usage: Vec::new(),
            own_frame: None,
            loaded_by: None,
            after: Vec::new(),
        }
    }

    fn with_chain(mut self, chain: Vec<Raised>) -> Self {
        self.chain = chain;
        self
    }

    fn with_detail(mut self, detail: Vec<String>) -> Self {
        self.detail = detail;
        self
    }

    fn with_place(mut self, place: Option<String>) -> Self {
        self.place = place;
        self
    }

    /// The line to quote: `Type: message`.
    pub fn quote(&self) -> String {
        match &self.error.kind {
            Some(k) if !self.error.message.is_empty() => format!("{k}: {}", self.error.message),
            Some(k) => k.clone(),
            None => self.error.message.clone(),
        }
    }

    /// Every text that belongs to it: message, chain, detail.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.error.message.as_str())
            .chain(self.error.kind.as_deref())
            .chain(self.chain.iter().map(|r| r.message.as_str()))
            .chain(self.chain.iter().filter_map(|r| r.kind.as_deref()))
            .chain(self.detail.iter().map(String::as_str))
    }
}

re!(PY_TRACEBACK, r"Traceback \(most recent call last\):\s*$");
re!(
    PY_RAISED,
    r"^(?:[\w.]+\.)?(?P<kind>[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Group|Timeout|Refused|Missing|Invalid|Configured|NotFound|Failed|Denied)|[A-Z]\w*Error\w*|KeyError|StopIteration|SystemExit)(?::\s?(?P<message>.*))?$"
);
re!(
    PY_QUALIFIED,
    r"^(?P<kind>(?:[a-z_][\w]*\.)+[A-Z]\w*)(?::\s?(?P<message>.*))?$"
);
re!(
    NODE_RAISED,
    r"^(?:.*?\s)??(?:Uncaught )?(?:[a-z][\w$]{0,3} \[)?(?P<kind>(?:[a-z]\w*\$)?[A-Z]\w*(?:Error|Exception)|[Ee]rror)\]?(?: \[(?P<code>[\w-]+)\])?: (?P<message>.+)$"
);
re!(NODE_FRAME, r"^\s+at .+");
re!(NODE_CODE, r"^\s*code: '(?P<code>[\w-]+)',?$");
re!(NODE_CAUSE, r"^\s*\[cause\]: (?P<rest>.+)$");
re!(
    JAVA_RAISED,
    r#"^(?:Exception in thread "[^"]*" |Caused by: )(?P<kind>[\w.$]+)(?:: (?P<message>.*))?$"#
);
re!(GO_PANIC, r"^(?P<kind>panic|fatal error): (?P<message>.+)$");
re!(
    RUST_PANIC,
    r"^thread '[^']*'(?: \(\d+\))? panicked at (?:'(?P<old>.*)', )?(?P<place>\S+?):?$"
);
re!(
    RUBY_RAISED,
    r"^(?P<place>\S+:\d+):in [`'][^']*': (?P<message>.*) \((?P<kind>[A-Z][\w:]*)\)$"
);
re!(
    PERL_DIED,
    r"^(?P<message>.+?) at (?P<file>\S+) line (?P<line>\d+)(?:, near .*|, <[^>]*> (?:line|chunk) \d+)?\.?$"
);
re!(
    PHP_FATAL,
    r"^(?:(?:[\w.\[\]-]+:\s+)?PHP )?(?P<level>Fatal error|Parse error):\s+(?:Uncaught (?P<kind>[\w\\]+): )?(?P<message>.+?)(?: in (?P<file>/\S+?)(?::(?P<line>\d+)| on line (?P<line2>\d+)))?$"
);
re!(
    SHELL_SAID,
    r"^(?P<script>[\w./-]*(?:sh|bash|dash)|\S+): (?:line )?(?P<line>\d+): (?P<message>.+)$"
);

/// Whether a Python traceback's frame (or code) line: indented, or the
/// `^^^^` markers, or the chain separators.
fn python_frame(line: &str) -> bool {
    line.starts_with(' ') || line.starts_with('\t') || line.trim().is_empty()
}

const PY_CHAINED: &[&str] = &[
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
];

/// The terminal errors in `lines`, in order; the last one is usually the
/// failure, earlier ones its symptoms or earlier attempts.
pub fn find(lines: &[&str]) -> Vec<TerminalError> {
    // Python's exception groups draw a gutter (`  | `, `  +-+---- 1 ----`)
    // around tracebacks of the usual shape: read them without it.
    let ungrouped: Vec<String>;
    let lines: &[&str] = if lines.iter().any(|l| GROUP_GUTTER.is_match(l)) {
        ungrouped = lines.iter().map(|l| without_gutter(l)).collect();
        &ungrouped.iter().map(String::as_str).collect::<Vec<_>>()
    } else {
        lines
    };
    // A process manager's prefix (honcho, foreman, Compose: `web.1 | …`)
    // on most lines: the program's own words are after it.
    let unprefixed: Vec<&str>;
    let prefixed = lines.iter().filter(|l| MANAGER_PREFIX.is_match(l)).count();
    let lines: &[&str] =
        if prefixed > 0 && prefixed * 2 >= lines.iter().filter(|l| !l.trim().is_empty()).count() {
            unprefixed = lines
                .iter()
                .map(|l| {
                    MANAGER_PREFIX
                        .captures(l)
                        .and_then(|c| c.name("rest"))
                        .map_or(*l, |m| m.as_str())
                })
                .collect();
            &unprefixed
        } else {
            lines
        };
    // Node's uncaught plain object (json-bigint's `throw { name:
    // 'SyntaxError', message: … }`), inspected under the caret: read as the
    // error it describes.
    let described: Vec<String>;
    let lines: &[&str] = if let Some(at) = thrown_object(lines) {
        described = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i == at.0 {
                    at.1.clone()
                } else {
                    (*l).to_string()
                }
            })
            .collect();
        &described.iter().map(String::as_str).collect::<Vec<_>>()
    } else {
        lines
    };
    let mut found = blocks(lines);
    for (start, t) in &mut found {
        situate(lines, *start, t);
    }
    found.into_iter().map(|(_, t)| t).collect()
}

re!(THROWN_NAME, r"^\s+name: '(?P<v>[A-Z]\w*)',?$");
re!(THROWN_MESSAGE, r"^\s+message: '(?P<v>.*)',?$");

/// The line of an uncaught plain object thrown in Node.js (`{` under the
/// code's caret) and the error it describes (`SyntaxError: Duplicate key
/// "accounts"` from its `name` and `message`).
fn thrown_object(lines: &[&str]) -> Option<(usize, String)> {
    let at = (1..lines.len()).find(|&i| lines[i] == "{" && lines[i - 1].trim() == "^")?;
    let body = lines[at + 1..lines.len().min(at + 20)]
        .iter()
        .take_while(|l| **l != "}");
    let (mut name, mut message) = (None, None);
    for l in body {
        if let Some(c) = THROWN_NAME.captures(l) {
            name = Some(c["v"].to_string());
        } else if let Some(c) = THROWN_MESSAGE.captures(l) {
            message = Some(c["v"].replace("\\'", "'"));
        }
    }
    let message = message?;
    Some((
        at,
        format!("{}: {message}", name.as_deref().unwrap_or("Error")),
    ))
}

re!(
    MANAGER_PREFIX,
    r"^(?:\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\s+)?[\w.@-]+\s*\| (?P<rest>.*)$"
);
re!(
    GROUP_GUTTER,
    r"^\s*(?:\+ Exception Group Traceback|\+-[-+]|\| )"
);
re!(
    GROUP_SEPARATOR,
    r"^\s*\+?-[-+]*(?: (?:\d+|\.\.\.) -+| and \d+ more exceptions? -+)?-*$"
);

/// A line of an exception group without its gutter: separators become
/// blank, `    | X: y` becomes `X: y`, `    |   File …` stays indented.
fn without_gutter(line: &str) -> String {
    if GROUP_SEPARATOR.is_match(line) && line.contains("--") {
        return String::new();
    }
    let t = line.trim_start();
    t.strip_prefix("+ ")
        .or_else(|| t.strip_prefix("| "))
        .or_else(|| (t == "|").then_some(""))
        .unwrap_or(line)
        .to_string()
}

re!(SUB_EXCEPTIONS, r"\(\d+ sub-exceptions?\)$");
re!(PY_FRAME_AT, r#"File "(?P<file>[^"]+)", line (?P<line>\d+)"#);
re!(
    PY_COMPILE_PLACE,
    r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)\s*$"#
);
re!(
    PY_COMPILE_ERROR,
    r"^(?P<kind>SyntaxError|IndentationError|TabError): (?P<message>.+)$"
);
re!(
    NODE_AT,
    r"^(?:file://)?(?P<file>/\S+\.[cm]?[jt]s):(?P<line>\d+)$"
);
re!(
    JAVA_AT,
    r"^\s*at [\w.$<>]+\((?P<file>[\w$]+\.(?:java|kt|scala)):(?P<line>\d+)\)"
);

/// Fills in where `t` (whose block begins at `start`) was raised, and what
/// was printed before it.
fn situate(lines: &[&str], start: usize, t: &mut TerminalError) {
    if t.runtime == Runtime::Java
        && t.detail.is_empty()
        && t.error.message.trim_end().ends_with(':')
    {
        // `Guice configuration errors:`, a blank line, `1) No implementation …`.
        t.detail = following(lines, t.index + 1, 6)
            .into_iter()
            .take_while(|l| !l.starts_with("at "))
            .take(2)
            .collect();
    }
    if t.place.is_none() && t.runtime == Runtime::Java {
        // The first frame of the application's own code.
        t.place = lines[t.index + 1..]
            .iter()
            .take(40)
            .filter_map(|l| JAVA_AT.captures(l))
            .find(|c| !c["file"].starts_with("Thread"))
            .map(|c| format!("{}:{}", &c["file"], &c["line"]));
    }
    if t.place.is_none() {
        // Node prints the place above the error; so does Python for a
        // script that does not compile (no traceback: `File "…", line 19`,
        // the code, a caret, then `SyntaxError: …`).
        let compile_error = t
            .error
            .kind
            .as_deref()
            .is_some_and(|k| matches!(k, "SyntaxError" | "IndentationError" | "TabError"));
        let from = if t.runtime == Runtime::Node {
            t.index.saturating_sub(5)
        } else if compile_error {
            t.index.saturating_sub(5).min(start)
        } else {
            start
        };
        t.place = lines[from..t.index].iter().rev().find_map(|l| {
            PY_FRAME_AT
                .captures(l)
                .map(|c| format!("{}, line {}", &c["file"], &c["line"]))
                .or_else(|| {
                    NODE_AT
                        .captures(l.trim())
                        .map(|c| format!("{}:{}", &c["file"], &c["line"]))
                })
        });
    }
    if t.place.is_none() {
        t.place = match t.runtime {
            // `/app/lib/plans.rb:11`, `app.pl line 4`: the shape put it first.
            Runtime::Ruby | Runtime::Perl => t.detail.first().cloned(),
            // The first frame of the program's own code below the panic.
            Runtime::Go => lines[t.index + 1..]
                .iter()
                .take(40)
                .filter_map(|l| GO_FRAME.captures(l))
                .find(|c| !c["file"].contains("/src/runtime/"))
                .map(|c| format!("{}:{}", &c["file"], &c["line"])),
            _ => None,
        };
    }
    t.library = library_of(lines, start, t);
    t.own_frame = own_frame(lines, start, t);
    t.loaded_by = (t.runtime == Runtime::Node)
        .then(|| loaded_by(&lines[(t.index + 1).min(lines.len())..]))
        .flatten();
    t.after = lines_after(lines, t.index);
    t.stack = lines[start..t.index.max(start)]
        .iter()
        .rev()
        .take(40)
        .rev()
        .map(|l| l.trim().to_string())
        .collect();
    t.before = lines[..start]
        .iter()
        .rev()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .take(24)
        .map(str::to_string)
        .collect();
}

re!(
    PERL_TRACE_FRAME,
    r"^(?:.* called at \S+ line \d+|eval \{\.\.\.\} (?:called )?at \S+ line \d+|.*\{\.\.\.\}\s+at \S+ line \d+|\s*)$"
);
re!(GO_FRAME, r"^\s+(?P<file>/\S+\.go):(?P<line>\d+)");
re!(
    PACKAGE_DIR,
    r#"/lib/ruby/\d[\d.]*/(?P<rubylib>\w+)\.rb|/lib/python3\.\d+/(?P<pylib>\w+)(?:/|\.py")|/(?:site-packages|dist-packages|node_modules|gems)/(?P<package>@[\w.-]+/[\w.-]+|[A-Za-z_][\w-]*(?:\.[\w-]+)*?)(?:/|\.py")|/(?:pkg/mod|gocode/src|go/src)/(?P<module>[\w.-]+/[\w.-]+/[\w.-]+)[@/]"#
);
re!(
    JAVA_PACKAGE,
    r"^\s*at (?:[\w.-]+/)?(?P<package>[a-z][\w]*(?:\.[a-z][\w]*)+)\.[A-Z]"
);

re!(
    PY_FRAME,
    r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)"#
);
re!(
    NODE_FRAME_AT,
    r"^\s*at (?:async )?(?:(?P<function>[^\s(]+)(?: \[as [^\]]+\])? \()?(?:file://)?(?P<file>[^\s()]+):(?P<line>\d+):\d+\)?(?: \{)?$"
);
re!(
    JAVA_FRAME,
    r"^\s*at (?:[\w.-]+/)?(?P<function>[\w.$<>]+)\((?P<file>[\w$]+\.(?:java|kt|scala)):(?P<line>\d+)\)"
);
re!(
    PHP_FRAME,
    r"^#\d+ (?P<file>/\S+?\.php)\((?P<line>\d+)\): (?:(?P<call>[\w\\]+(?:(?:->|::)\w+)?)\()?"
);
re!(GO_FUNCTION, r"^(?P<function>[\w./*()-]+?)\(.*\)$");
re!(
    RUBY_FRAME,
    r"^\s*(?:from )?(?P<file>[^\s:]+\.rb):(?P<line>\d+):in [`'](?:[\w:]+[#.])?(?P<function>[^'`]+)'"
);

/// Whether a frame's file is the program's own: not an installed package,
/// not the runtime or its standard library.
fn own_source(file: &str) -> bool {
    // A path, not `memory:0x7f…` (a template compiled in memory) or
    // `"/app/views/x.ejs"` (an eval's label).
    let path = (file.starts_with('/') || !file.contains(':'))
        && !file.starts_with('"')
        && (file.contains('/') || file.contains('.'));
    path && !(file.starts_with("node:")
        || file.starts_with('<')
        || file.contains("/node_modules/")
        || file.contains("/site-packages/")
        || file.contains("/dist-packages/")
        || file.contains("/gems/")
        || file.contains("/lib/ruby/")
        || file.contains("/rubygems")
        || file.contains("/lib/python3")
        || file.starts_with("internal/"))
}

/// The first of `own` frames (innermost first); when it names no function
/// (a comprehension, an anonymous callback), the function of the next
/// frame of the same file that `encloses` it.
fn in_enclosing_function(
    mut own: impl Iterator<Item = Frame>,
    encloses: impl Fn(&Frame, &Frame) -> bool,
) -> Option<Frame> {
    let mut first = own.next()?;
    if first.function.is_none() {
        first.function = own
            .next()
            .filter(|f| f.file == first.file && encloses(&first, f))
            .and_then(|f| f.function);
    }
    Some(first)
}

/// The innermost frame of the program's own code in `t`'s stack (see
/// [`TerminalError::own_frame`]).
fn own_frame(lines: &[&str], start: usize, t: &TerminalError) -> Option<Frame> {
    let frame = |c: regex::Captures<'_>| -> Option<Frame> {
        let file = c.name("file")?.as_str();
        let function = c
            .name("function")
            .map(|f| f.as_str())
            .filter(|f| !f.contains('<') && !f.starts_with("Object.") && *f != "new")
            .map(str::to_string);
        own_source(file).then(|| Frame {
            function,
            file: file.to_string(),
            line: c["line"].parse().unwrap_or(0),
        })
    };
    match t.runtime {
        // Innermost last, above the error line.
        // A comprehension's or lambda's frame (`<listcomp>`) is in the
        // function of the frame that called it on the same line.
        Runtime::Python => {
            let own = lines[start..t.index]
                .iter()
                .rev()
                .filter_map(|l| PY_FRAME.captures(l))
                .filter_map(frame);
            in_enclosing_function(own, |inner, outer| inner.line == outer.line)
        }
        // Innermost first, below it (Ruby's first frame is on its line).
        // An anonymous callback's frame (`at /app/jobs.js:4:30` inside an
        // `Array.map`) is in the function of the next own frame of the
        // same file (`at rebuildSearchIndex (/app/jobs.js:4:20)`): inline,
        // it is written at or below the line that passed it (`.map((i, el)
        // => …)` on line 5, the failing code on line 7).
        Runtime::Node => {
            let own = lines[t.index + 1..lines.len().min(t.index + 40)]
                .iter()
                .filter_map(|l| NODE_FRAME_AT.captures(l))
                .filter_map(frame);
            in_enclosing_function(own, |inner, outer| outer.line <= inner.line)
        }
        // `at com.acme.Payouts.split(Payouts.java:15)`: the first frame
        // outside the platform's packages.
        Runtime::Java => lines[t.index + 1..lines.len().min(t.index + 40)]
            .iter()
            .filter_map(|l| JAVA_FRAME.captures(l))
            .find(|c| {
                !["java.", "javax.", "jdk.", "sun.", "com.sun."]
                    .iter()
                    .any(|p| c["function"].starts_with(p))
            })
            .and_then(frame),
        // `main.splitBatches({0xc0…}, 0x4e2)` over `\t/src/app/main.go:14
        // +0x1c5`: the first function whose file is not the runtime's.
        Runtime::Go => {
            let below = &lines[t.index + 1..lines.len().min(t.index + 60)];
            below.windows(2).find_map(|w| {
                let function = GO_FUNCTION.captures(w[0])?;
                let at = GO_FRAME.captures(w[1])?;
                let file = &at["file"];
                (!file.contains("/src/runtime/") && !file.contains("/pkg/mod/") && own_source(file))
                    .then(|| Frame {
                        function: Some(function["function"].to_string()),
                        file: file.to_string(),
                        line: at["line"].parse().unwrap_or(0),
                    })
            })
        }
        // A method of the runtime's own (`Integer`, `fetch`) is shown at
        // its caller's line, which the next frame repeats: that frame
        // names the program's code.
        // `#0 /srv/app/stats.php(3): bcdiv()` over `#1 /srv/app/stats.php(7):
        // average_basket()`: a frame names the function it *called*, so the
        // function a frame's line is in is the one the next frame called.
        // The first frame outside Composer's `vendor/` and the system's
        // PHP libraries.
        Runtime::Php => {
            let frames: Vec<regex::Captures<'_>> = lines
                [t.index + 1..lines.len().min(t.index + 40)]
                .iter()
                .filter_map(|l| PHP_FRAME.captures(l))
                .collect();
            let php_own = |file: &str| {
                !file.contains("/vendor/")
                    && !file.starts_with("/usr/share/php/")
                    && own_source(file)
            };
            // Thrown in the program's own file (`… on bool in
            // /srv/report.php:10`): that line is in the function the first
            // frame called (`#0 /srv/report.php(13): shiftLabel()`). When
            // that frame is on the same line, the runtime's function it
            // called threw (`#0 /srv/stats.php(3): bcdiv()`): read on.
            let thrown = lines.get(t.index).and_then(|l| PHP_FATAL.captures(l));
            if let Some(c) = thrown
                && let (Some(file), Some(line)) =
                    (c.name("file"), c.name("line").or(c.name("line2")))
                && php_own(file.as_str())
                && let Some(first) = frames.first()
                && (&first["file"], &first["line"]) != (file.as_str(), line.as_str())
                && let Some(call) = first.name("call")
            {
                return Some(Frame {
                    function: Some(call.as_str().to_string()),
                    file: file.as_str().to_string(),
                    line: line.as_str().parse().unwrap_or(0),
                });
            }
            frames.iter().enumerate().find_map(|(i, c)| {
                let file = &c["file"];
                php_own(file).then(|| Frame {
                    function: frames
                        .get(i + 1)
                        .and_then(|next| next.name("call"))
                        .map(|f| f.as_str().to_string()),
                    file: file.to_string(),
                    line: c["line"].parse().unwrap_or(0),
                })
            })
        }
        Runtime::Ruby => {
            let frames: Vec<_> = lines[t.index..lines.len().min(t.index + 40)]
                .iter()
                .filter_map(|l| RUBY_FRAME.captures(l))
                .collect();
            let at = |c: &regex::Captures<'_>| (c["file"].to_string(), c["line"].to_string());
            let shown_at_caller: Vec<bool> = (0..frames.len())
                .map(|i| frames.get(i + 1).is_some_and(|n| at(n) == at(&frames[i])))
                .collect();
            frames
                .into_iter()
                .zip(shown_at_caller)
                .filter(|(_, caller)| !caller)
                .find_map(|(c, _)| frame(c))
        }
        _ => None,
    }
}

/// See [`TerminalError::loaded_by`]: in Node.js frames below an error,
/// the own module whose top level required the module that failed at its
/// top level.
fn loaded_by(frames: &[&str]) -> Option<String> {
    let top_level = |l: &str| {
        NODE_FRAME_AT
            .captures(l)
            .filter(|c| {
                c.name("function")
                    .is_some_and(|f| f.as_str() == "Object.<anonymous>")
            })
            .filter(|c| own_source(&c["file"]))
            .map(|c| (c["file"].to_string(), c["line"].to_string()))
    };
    let frames = &frames[..frames.len().min(40)];
    let failed = frames
        .iter()
        .position(|l| l.trim_start().starts_with("at "))?;
    let (file, _) = top_level(frames[failed])?;
    let required = frames[failed + 1..]
        .iter()
        .position(|l| l.contains("at require (") || l.contains("at Module.require ("))?;
    frames[failed + 1 + required..]
        .iter()
        .find_map(|l| top_level(l))
        .filter(|(by, _)| *by != file)
        .map(|(by, line)| format!("{by}:{line}"))
}

/// The installed package whose frame is innermost in `t`'s stack (see
/// [`TerminalError::library`]).
fn library_of(lines: &[&str], start: usize, t: &TerminalError) -> Option<String> {
    // (name, from the language's own standard library)
    let package = |l: &str| -> Option<(String, bool)> {
        if let Some(c) = JAVA_PACKAGE.captures(l) {
            let p = &c["package"];
            let platform = ["java.", "javax.", "sun.", "jdk.", "com.sun."];
            return (!platform.iter().any(|x| p.starts_with(x))).then(|| (p.to_string(), false));
        }
        let c = PACKAGE_DIR.captures(l)?;
        if let Some(m) = c.name("module") {
            return Some((m.as_str().to_string(), false));
        }
        if let Some(m) = c.name("rubylib").or_else(|| c.name("pylib")) {
            return Some((m.as_str().to_string(), true));
        }
        // `ioredis`, `@prisma/client`, `pika`, a gem's `redis-5.0.8`
        // without its version.
        let p = &c["package"];
        let p = match p.rsplit_once('-') {
            Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => name,
            _ => p,
        };
        Some((p.to_string(), false))
    };
    // Innermost first.
    let frames: Vec<(String, bool)> = match t.runtime {
        // The frames above the error line, innermost last.
        Runtime::Python => lines[start..t.index]
            .iter()
            .rev()
            .filter(|l| l.trim_start().starts_with("File "))
            .filter_map(|l| package(l))
            .collect(),
        // The frames below it.
        Runtime::Node | Runtime::Java | Runtime::Ruby | Runtime::Go => lines
            [t.index..lines.len().min(t.index + 40)]
            .iter()
            .filter_map(|l| package(l))
            .collect(),
        _ => Vec::new(),
    };
    // An installed package says more than the standard library under it
    // (redis-py over `socket`); the standard library when there is no other
    // (Ruby's Psych, Python's json).
    frames
        .iter()
        .find(|(_, std)| !std)
        .or(frames.first())
        .map(|(name, _)| name.clone())
}

/// Each terminal error with the index where its block begins.
fn blocks(lines: &[&str]) -> Vec<(usize, TerminalError)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let line = lines[i].trim_end();
        if PY_TRACEBACK.is_match(line) {
            let (found, next) = python(lines, i);
            if let Some(t) = found {
                // A chain: the separator right before this traceback.
                out.push((start, t));
            }
            i = next;
            continue;
        }
        // A script that does not compile prints no traceback: the place,
        // the code, a caret, then `SyntaxError: …`.
        if let Some(place) = PY_COMPILE_PLACE.captures(line) {
            let raised = (i + 1..lines.len().min(i + 5))
                .find_map(|j| PY_COMPILE_ERROR.captures(lines[j].trim()).map(|c| (j, c)));
            if let Some((j, c)) = raised {
                let at = format!("{}, line {}", &place["file"], &place["line"]);
                out.push((
                    start,
                    TerminalError::at(
                        Runtime::Python,
                        Some(c["kind"].to_string()),
                        c["message"].to_string(),
                        j,
                    )
                    .with_place(Some(at)),
                ));
                i = j + 1;
                continue;
            }
        }
        if let Some(c) = JAVA_RAISED.captures(line) {
            let (t, next) = java(lines, i, &c);
            out.push((start, t));
            i = next;
            continue;
        }
        if let Some(t) = node(lines, i) {
            i = t.1;
            out.push((start, t.0));
            continue;
        }
        if let Some(c) = GO_PANIC.captures(line) {
            out.push((
                start,
                TerminalError::at(
                    Runtime::Go,
                    Some(c["kind"].to_string()),
                    c["message"].to_string(),
                    i,
                )
                .with_detail(following(lines, i + 1, 2)),
            ));
            i += 1;
            continue;
        }
        if let Some(c) = RUST_PANIC.captures(line) {
            let message = match c.name("old") {
                Some(m) => m.as_str().to_string(),
                None => lines
                    .get(i + 1)
                    .map_or_else(String::new, |l| l.trim().to_string()),
            };
            out.push((
                start,
                TerminalError::at(Runtime::Rust, Some("panic".to_string()), message, i)
                    .with_detail(vec![c["place"].to_string()])
                    .with_place(Some(c["place"].to_string())),
            ));
            i += 1;
            continue;
        }
        if let Some(c) = RUBY_RAISED.captures(line) {
            // Ruby prints the exception, then each of its causes.
            let mut chain = Vec::new();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j].trim_end();
                if l.trim_start().starts_with("from ") {
                    j += 1;
                } else if let Some(cause) = RUBY_RAISED.captures(l) {
                    chain.push(Raised {
                        kind: Some(cause["kind"].to_string()),
                        message: cause["message"].to_string(),
                    });
                    j += 1;
                } else {
                    break;
                }
            }
            out.push((
                start,
                TerminalError::at(
                    Runtime::Ruby,
                    Some(c["kind"].to_string()),
                    c["message"].to_string(),
                    i,
                )
                .with_chain(chain)
                .with_detail(vec![c["place"].to_string()]),
            ));
            i = j;
            continue;
        }
        if let Some(c) = PHP_FATAL.captures(line) {
            let kind = match (&c["level"], c.name("kind")) {
                ("Parse error", _) => Some("ParseError".to_string()),
                (_, Some(k)) => Some(k.as_str().to_string()),
                _ => None,
            };
            // As PHP wrote it: `file:6`, or `file on line 6`.
            let place = c
                .name("file")
                .map(|f| match (c.name("line"), c.name("line2")) {
                    (Some(n), _) => format!("{}:{}", f.as_str(), n.as_str()),
                    (None, Some(n)) => format!("{} on line {}", f.as_str(), n.as_str()),
                    (None, None) => f.as_str().to_string(),
                });
            // A message of several lines (Carbon's `Unexpected data
            // found.` / `Trailing data in /…/Creator.php:676`): read on to
            // the line that ends in the place.
            let mut message = c["message"].to_string();
            let mut place = place;
            if place.is_none()
                && let Some(end) = (i + 1..lines.len().min(i + 6))
                    .take_while(|&j| {
                        !lines[j].trim().is_empty() && !lines[j].starts_with("Stack trace:")
                    })
                    .find(|&j| PHP_MESSAGE_END.is_match(lines[j].trim()))
            {
                for l in &lines[i + 1..end] {
                    message.push(' ');
                    message.push_str(l.trim());
                }
                if let Some(m) = PHP_MESSAGE_END.captures(lines[end].trim()) {
                    message.push(' ');
                    message.push_str(&m["said"]);
                    place = Some(format!("{}:{}", &m["file"], &m["line"]));
                }
            }
            out.push((
                start,
                TerminalError {
                    runtime: Runtime::Php,
                    error: Raised { kind, message },
                    chain: Vec::new(),
                    detail: Vec::new(),
                    index: i,
                    place,
                    before: Vec::new(),
                    stack: Vec::new(),
                    library: None,
                    usage: Vec::new(),
                    own_frame: None,
                    loaded_by: None,
                    after: Vec::new(),
                },
            ));
            i += 1;
            continue;
        }
        if let Some(c) = SHELL_SAID.captures(line) {
            let mut t = TerminalError::at(Runtime::Shell, None, c["message"].to_string(), i)
                .with_detail(vec![c["script"].to_string()]);
            t.place = Some(format!("{}:{}", &c["script"], &c["line"]));
            out.push((start, t));
            i += 1;
            continue;
        }
        // Devel::StackTrace (Throwable, Email::Sender, Moose): the message,
        // a blank line, `Trace begun at FILE line N`, then one `… called at
        // FILE line N` per frame, the program's own last.
        if line.starts_with("Trace begun at ")
            && let Some(said_at) = (0..i).rev().find(|&j| !lines[j].trim().is_empty())
        {
            let frames_end = (i + 1..lines.len())
                .find(|&k| !PERL_TRACE_FRAME.is_match(lines[k]))
                .unwrap_or(lines.len());
            let place = lines[i..frames_end]
                .iter()
                .rev()
                .find_map(|l| PERL_DIED.captures(l))
                .map(|c| format!("{} line {}", &c["file"], &c["line"]));
            let mut t = TerminalError::at(
                Runtime::Perl,
                None,
                lines[said_at].trim().to_string(),
                said_at,
            );
            t.place = place;
            out.push((said_at, t));
            i = frames_end;
            continue;
        }
        if let Some(c) = PERL_DIED.captures(line)
            && !line.starts_with(' ')
            && (std::path::Path::new(&c["file"])
                .extension()
                .is_some_and(|e| ["pl", "pm", "t"].iter().any(|x| e.eq_ignore_ascii_case(x)))
                || c["file"] == *"-e")
        {
            out.push((
                start,
                TerminalError {
                    runtime: Runtime::Perl,
                    error: Raised {
                        kind: None,
                        message: c["message"].to_string(),
                    },
                    chain: Vec::new(),
                    detail: std::iter::once(format!("{} line {}", &c["file"], &c["line"]))
                        .chain(
                            lines[start.saturating_sub(4)..start]
                                .iter()
                                .rev()
                                .take_while(|l| !l.trim().is_empty())
                                .map(|l| l.trim().to_string()),
                        )
                        .collect(),
                    index: i,
                    place: None,
                    before: Vec::new(),
                    stack: Vec::new(),
                    library: None,
                    usage: Vec::new(),
                    own_frame: None,
                    loaded_by: None,
                    after: Vec::new(),
                },
            ));
            i += 1;
            continue;
        }
        i += 1;
    }
    out
}

re!(
    ERRORISH,
    r"(?i)error|fatal|panic|fail|cannot|can't|could not|couldn't|unable|refused|denied|not set|must be|missing|invalid|no such|not found|exception|timed out|in use|no space|too many|out of memory|unbound|required (?:option|argument|flag|parameter)|no value provided|\bis required\b|\bno (?:answer|response|reply)\b|\b(?:did not|didn't|does not|doesn't) (?:answer|respond|reply)\b|\bunreachable\b|\bunavailable\b"
);
re!(
    PHP_MESSAGE_END,
    r"^(?P<said>.*?) in (?P<file>/\S+?):(?P<line>\d+)$"
);
re!(
    LINE_IN_FILE,
    r"(?i)\bon line \d+|\bline \d+|:\d+(?::\d+)?\b"
);
re!(
    RICH_FRAME,
    r"^\s*│\s*(?P<file>/\S+\.py):(?P<line>\d+) in (?P<function>[\w<>]+)"
);
re!(PLACE_ONLY, r"^\S+:\d+(?::\d+)?$");
re!(TEMPLATE_EXCERPT, r"^(?:>>\s*)?\d+\s*\|");
re!(SYNTAX_AT, r"^\S+:\d+: syntax error\b");
re!(
    NOISE,
    r"^(?:Node\.js v\d|note: run with|Trace begun at \S+ line \d+$|.* called at \S+ line \d+$|eval \{\.\.\.\} (?:called )?at \S+ line \d+$|.*\{\.\.\.\}\s+at \S+ line \d+$|\s*\d+: 0x|\s+at |\s*\^+\s*$|-+$|=+$|Exiting\.?$|\[process exited|\s*(?:errno|code|syscall|path|address|port|dest|hostname|severity|length|routine):\s|\s*[{}]\s*$|(?:Set|Run|Use|Re-?run|Pass)\b.*\bfor (?:a |the )?(?:complete|full|more|detailed) (?:stack ?trace|traceback|backtrace|output|details?|information)\.?$)"
);
re!(
    LOG_PREFIX,
    r"^(?:\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s*|\[[^\]]*\]\s*|(?:ERROR|FATAL|CRITICAL|CRIT|PANIC|WARN(?:ING)?|INFO|error|fatal)\b:?\s*|[\w.-]+\[\d+\]:\s*)+"
);
re!(
    LOGFMT_FIELD,
    r#"(?:^|\s)(?:msg|message|err|error|reason)=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>\S+))"#
);
re!(
    JSON_CONTEXT,
    r#""(?P<key>status|statusCode|status_code|code|body|url|uri|host|addr|address|target|endpoint|base|dsn|path|file)"\s*:\s*(?:"(?P<text>(?:[^"\\]|\\.)*)"|(?P<number>-?\d+))"#
);
re!(
    JSON_TRACE,
    r#""(?:exc_info|exception|exc_text|traceback|stack|stack_trace|stacktrace|backtrace)"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)""#
);
re!(
    JSON_FIELD,
    r#""(?P<key>msg|message|error|err|reason)"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)""#
);

/// The last words of a program whose error has no known shape (a Go
/// `log.Fatal`, a caught error logged before `exit(1)`, a JSON or logfmt
/// log line): the last line that reads as an error among the last few, its
/// timestamp, level and logger stripped, a structured line's message and
/// error joined.
pub fn last_words(lines: &[&str]) -> Option<TerminalError> {
    last_words_all(lines).into_iter().next()
}

/// The lines of a stack trace a JSON log line carries in a field
/// (python-json-logger's `exc_info`, pino's and bunyan's `err.stack`,
/// `stack_trace`), unescaped; none for any other line.
pub fn embedded_trace(line: &str) -> Vec<String> {
    if !line.trim_start().starts_with('{') || !line.contains("\\n") {
        return Vec::new();
    }
    let Some(c) = JSON_TRACE.captures(line) else {
        return Vec::new();
    };
    unescape_json(&c["value"])
        .lines()
        .map(str::to_string)
        .collect()
}

re!(
    PRETTY_ERROR,
    r"^\s*(?P<kind>[A-Z][\w.]*(?:Error|Exception))\s{2,}(?P<message>\S.*)$"
);
re!(PRETTY_FRAME_HEAD, r"^\s*• \S+\t(?P<function>[^\s<]*)\s*$");
re!(
    PRETTY_FRAME_PLACE,
    r"^\t(?P<file>[^\s:]+\.[cm]?[jt]s):(?P<line>\d+)\s*$"
);

/// A line of a pretty-printing logger's error (tslog: ` TypeError  Cannot
/// read …`, then frames as `• jobs.js\trebuildSearchIndex` over
/// `\tjobs.js:4`) in Node's own shape (`TypeError: Cannot read …`,
/// `    at rebuildSearchIndex (jobs.js:4:0)`), given the line before it;
/// `None` for any other line.
pub fn in_node_shape(previous: Option<&str>, line: &str) -> Option<String> {
    if let Some(c) = PRETTY_ERROR.captures(line) {
        return Some(format!("{}: {}", &c["kind"], &c["message"]));
    }
    let place = PRETTY_FRAME_PLACE.captures(line)?;
    let function = previous
        .and_then(|p| PRETTY_FRAME_HEAD.captures(p))
        .map(|c| c["function"].to_string())?;
    Some(if function.is_empty() {
        format!("    at {}:{}:0", &place["file"], &place["line"])
    } else {
        format!(
            "    at {function} ({}:{}:0)",
            &place["file"], &place["line"]
        )
    })
}

/// A JSON string's contents with its escapes undone (`\n`, `\"`, `\\`,
/// `\uXXXX`).
fn unescape_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            // `\r` is dropped with a string's end.
            Some('r') | None => {}
            Some(other) => out.push(other),
        }
    }
    out
}

/// The program's own lines after line `index` (see
/// [`TerminalError::after`]): not indented, not Node's version footer or
/// the end of an inspected object; at most 3.
fn lines_after(lines: &[&str], index: usize) -> Vec<String> {
    lines[(index + 1).min(lines.len())..]
        .iter()
        .filter(|l| !l.starts_with([' ', '\t']) && !l.trim().is_empty())
        .filter(|l| !l.starts_with("Node.js v") && !l.starts_with('}'))
        .take(3)
        .map(|l| l.trim().to_string())
        .collect()
}

/// Every candidate for [`last_words`], the likeliest first: the lines of
/// the last few that name an errno (latest first), then those that read as
/// an error, then the last line.
pub fn last_words_all(lines: &[&str]) -> Vec<TerminalError> {
    // A usage text printed after the error (Go's `flag`, argparse, getopt):
    // the error is before it.
    let end = usage_starts(lines).unwrap_or(lines.len());
    let usage: Vec<String> = lines[end..]
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .take(4)
        .collect();
    let lines = &lines[..end];
    let tail: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, l)| !l.trim().is_empty() && !NOISE.is_match(l))
        .take(12)
        .map(|(i, l)| (i, *l))
        .collect();
    // A line that opens a block (`… variables: {`, `errors:`) speaks for
    // the block: its lines are its detail, not errors of their own.
    let opener = |i: usize| -> Option<usize> {
        let near = (i.saturating_sub(12)..i)
            .rev()
            .find(|&j| opens_block(lines[j]) && !lines[j].starts_with([' ', '\t']))
            .filter(|&j| lines[j + 1..=i].iter().all(|l| in_block(l)));
        // Further up (a validator's JSON list of issues), only a sentence
        // announcing the list: `invalid partner configuration:`.
        near.or_else(|| {
            (i.saturating_sub(40)..i.saturating_sub(12))
                .rev()
                .find(|&j| {
                    lines[j].trim_end().ends_with(':')
                        && !lines[j].starts_with([' ', '\t'])
                        && lines[j].chars().any(char::is_alphabetic)
                })
                .filter(|&j| {
                    lines[j + 1..=i]
                        .iter()
                        .all(|l| in_block(l) || l.trim_start().starts_with(['[', '{']))
                })
        })
    };
    // Of errno lines, one whose path the later ones extend is their cause
    // (`cannot create /spool/2026: Permission denied`, then `…/2026/12: No
    // such file or directory`): it goes first.
    let mut with_errno: Vec<&(usize, &str)> = tail
        .iter()
        .filter(|(_, l)| crate::errno::find(l).is_some())
        .collect();
    let path_of = |l: &str| {
        l.split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(|w| w.trim_end_matches([':', ',', '.']).to_string())
    };
    if let Some(root) = with_errno.iter().rposition(|(_, l)| {
        path_of(l).is_some_and(|p| {
            tail.iter().any(|(_, o)| {
                crate::errno::find(o).is_some()
                    && path_of(o)
                        .is_some_and(|q| q.len() > p.len() && q.starts_with(&format!("{p}/")))
            })
        })
    }) {
        let first = with_errno.remove(root);
        with_errno.insert(0, first);
    }
    let mut errorish: Vec<&(usize, &str)> = tail
        .iter()
        .filter(|(_, l)| ERRORISH.is_match(l) && crate::errno::find(l).is_none())
        .collect();
    // A line that says where in a file the fault is (`syntax error,
    // unexpected '!' in /etc/purge.ini on line 5`) goes before a later
    // one that only names the file (`could not parse config
    // /etc/purge.ini`).
    if let Some(first) = errorish.first().copied()
        && let Some(file) = path_of(first.1)
        && let Some(at) = errorish.iter().position(|(_, l)| {
            l.contains(&file) && !first.1.contains(" line ") && LINE_IN_FILE.is_match(l)
        })
    {
        let specific = errorish.remove(at);
        errorish.insert(0, specific);
    }
    let candidates = with_errno
        .into_iter()
        .chain(errorish)
        .chain(tail.first())
        // A compiler's run of `file:N: syntax error` lines: the first is
        // the fault, the rest its echo.
        .map(|&(i, _)| {
            let mut i = i;
            while i > 0 && SYNTAX_AT.is_match(lines[i]) && SYNTAX_AT.is_match(lines[i - 1]) {
                i -= 1;
            }
            (i, lines[i])
        })
        .map(|(i, l)| opener(i).map_or((i, l), |j| (j, lines[j])));
    let mut order: Vec<(usize, &str)> = Vec::new();
    for at in candidates {
        if !order.iter().any(|(k, _)| *k == at.0) {
            order.push(at);
        }
    }
    order
        .into_iter()
        .map(|(index, line)| TerminalError {
            runtime: Runtime::Other,
            error: Raised {
                kind: JSON_KIND
                    .captures(line)
                    .filter(|_| line.trim_start().starts_with('{'))
                    .map(|c| c["kind"].to_string()),
                message: if opens_block(line) {
                    said(line)
                        .trim_end_matches(['{', '[', ':', ' '])
                        .to_string()
                } else {
                    said(line)
                },
            },
            chain: Vec::new(),
            detail: if line.trim_start().starts_with('{') {
                // A JSON log line's other fields say to whom and what came
                // back (`"status":403`, `"url":"http://…"`).
                JSON_CONTEXT
                    .captures_iter(line)
                    .map(|c| {
                        let value = c
                            .name("text")
                            .or_else(|| c.name("number"))
                            .map_or("", |m| m.as_str());
                        format!("{}: {}", &c["key"], value.replace("\\\"", "\""))
                    })
                    .collect()
            } else if !opens_block(line) {
                // `Template render error: (…) [Line 6, Column 24]`, then
                // `  Error: Unable to call `formatMoney`…` indented below.
                lines[index + 1..]
                    .iter()
                    .take_while(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty())
                    .map(|l| l.trim().to_string())
                    .take(3)
                    .collect()
            } else if opens_block(line) {
                lines[index + 1..]
                    .iter()
                    .take_while(|l| in_block(l) || l.starts_with(['[', '{']))
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .take(12)
                    .collect()
            } else {
                Vec::new()
            },
            index,
            place: None,
            before: lines[..index]
                .iter()
                .rev()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .take(8)
                .map(str::to_string)
                .collect(),
            stack: Vec::new(),
            library: None,
            // Or the options it listed after the error (Getopt::Long::
            // Descriptive prints them without a `Usage:` line).
            usage: if usage.is_empty() {
                options_after(lines, index)
            } else {
                usage.clone()
            },
            // rich's boxed traceback (`│ /srv/rollup.py:7 in conversion_rate │`)
            // above it: the innermost frame of the program's own code.
            own_frame: lines[index.saturating_sub(80)..index]
                .iter()
                .rev()
                .filter_map(|l| RICH_FRAME.captures(l))
                .find(|c| own_source(&c["file"]))
                .map(|c| Frame {
                    function: Some(c["function"].to_string()).filter(|f| f != "<module>"),
                    file: c["file"].to_string(),
                    line: c["line"].parse().unwrap_or(0),
                }),
            loaded_by: None,
            // The program's lines after it (a piped stdout flushed at
            // exit: `sending alert via 127.0.0.1:63341`).
            after: lines_after(lines, index),
        })
        .collect()
}

/// The option list printed after line `index` (`\t--to STR  target
/// warehouse`), when there is one: its first lines.
fn options_after(lines: &[&str], index: usize) -> Vec<String> {
    let after: Vec<String> = lines[index + 1..]
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .take(16)
        .collect();
    if after.iter().any(|l| OPTION_LINE.is_match(l)) {
        after
    } else {
        Vec::new()
    }
}

re!(OPTION_LINE, r"^(?:-\w,?\s+)?--[A-Za-z][\w-]*\b");
re!(USAGE, r"^(?i:usage)(?: of \S+)?:(?:\s|$)");

/// Where a usage text printed at the end begins: a `Usage:` line
/// followed only by indented lines (the flags), blank lines and more
/// usage lines.
fn usage_starts(lines: &[&str]) -> Option<usize> {
    let from = lines.len().saturating_sub(60);
    let at = (from..lines.len())
        .rev()
        .find(|&i| USAGE.is_match(lines[i]))?;
    // Not a help text printed before the error (urfave/cli prints its
    // help, then `Required flag "month" not set`).
    let trailing = lines[at + 1..].iter().all(|l| {
        l.trim().is_empty()
            || l.starts_with([' ', '\t'])
            || USAGE.is_match(l)
            || l.trim_end().ends_with(':')
            || l.trim_start().starts_with('-')
    });
    (at > 0 && trailing).then_some(at)
}

/// A line ending in `{`, `[` or `:` opens a block of detail below it.
fn opens_block(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with('{') || t.ends_with('[') || (t.ends_with(':') && !t.ends_with("::"))
}

/// A line inside a block: indented, a bracket, or blank.
fn in_block(line: &str) -> bool {
    let t = line.trim();
    line.starts_with([' ', '\t']) || t.is_empty() || t.starts_with(['}', ']', '"'])
}

re!(
    JSON_KIND,
    r#""(?:type|name|errorType|error_type|exc_type|exception|kind)"\s*:\s*"(?P<kind>[\w.]*[A-Z]\w*(?:Error|Exception|Timeout|Fault)\w*)""#
);

/// What a log line says: a JSON or logfmt line's message and error, or
/// the text without its timestamp, level and logger.
fn said(line: &str) -> String {
    let structured: Vec<String> = if line.trim_start().starts_with('{') {
        JSON_FIELD
            .captures_iter(line)
            .map(|c| c["value"].replace("\\\"", "\""))
            .collect()
    } else {
        LOGFMT_FIELD
            .captures_iter(line)
            .map(|c| {
                c.name("quoted")
                    .or_else(|| c.name("bare"))
                    .map_or("", |m| m.as_str())
                    .replace("\\\"", "\"")
            })
            .collect()
    };
    if structured.is_empty() {
        LOG_PREFIX.replace(line.trim(), "").trim().to_string()
    } else {
        structured.join(": ")
    }
}

/// Up to `n` non-empty lines from `from`, trimmed.
fn following(lines: &[&str], from: usize, n: usize) -> Vec<String> {
    lines
        .iter()
        .skip(from)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .take(n)
        .map(str::to_string)
        .collect()
}

/// A Python traceback starting at `start`, with the tracebacks chained to
/// it; returns it and the index after it.
fn python(lines: &[&str], start: usize) -> (Option<TerminalError>, usize) {
    let mut chain = Vec::new();
    let mut i = start + 1;
    loop {
        while i < lines.len() && python_frame(lines[i]) {
            i += 1;
        }
        let Some(line) = lines.get(i).map(|l| l.trim_end()) else {
            return (None, i);
        };
        let mut raised = PY_RAISED
            .captures(line)
            .or_else(|| PY_QUALIFIED.captures(line))
            .map_or_else(
                || Raised {
                    kind: None,
                    message: line.to_string(),
                },
                |c| Raised {
                    kind: Some(c["kind"].to_string()),
                    message: c
                        .name("message")
                        .map_or("", |m| m.as_str())
                        .trim()
                        .to_string(),
                },
            );
        let at = i;
        i += 1;
        // What belongs to the message: indented lines, a pydantic field list.
        let mut detail = Vec::new();
        while i < lines.len() && detail.len() < 6 {
            let l = lines[i].trim_end();
            if l.is_empty()
                || PY_TRACEBACK.is_match(l)
                || PY_CHAINED.contains(&l.trim())
                || PY_RAISED.is_match(l)
            {
                break;
            }
            detail.push(l.trim().to_string());
            i += 1;
        }
        // xmlschema: `failed decoding 'every 10' with …:`, then paragraphs
        // ending in `Path: /partners/partner[2]/pollMinutes`.
        if raised.message.trim_end().ends_with(':')
            && let Some(path) = lines[i..lines.len().min(i + 40)]
                .iter()
                .take_while(|l| !PY_TRACEBACK.is_match(l))
                .find(|l| l.starts_with("Path: "))
        {
            detail.insert(0, path.trim().to_string());
        }
        // `X: error raised while processing, details below.`, the details,
        // then `X: what went wrong` (glom): the last says it.
        if let Some(c) = lines
            .get(i)
            .and_then(|l| PY_RAISED.captures(l).or_else(|| PY_QUALIFIED.captures(l)))
            && raised.kind.as_deref() == Some(&c["kind"])
            && let Some(m) = c.name("message")
        {
            detail.push(std::mem::replace(
                &mut raised.message,
                m.as_str().trim().to_string(),
            ));
            i += 1;
        }
        // A validator's explanation after one blank line (jsonschema's
        // `Failed validating 'maximum' in schema['properties']['tax_rate']`):
        // part of the message, unless a log record or a traceback follows.
        if lines.get(i).is_some_and(|l| l.trim().is_empty())
            && let Some(next) = lines.get(i + 1)
            && next.starts_with(|c: char| c.is_ascii_uppercase())
            && !PY_TRACEBACK.is_match(next)
            && !PY_CHAINED.contains(&next.trim())
            && !PY_RAISED.is_match(next)
            && (next.contains("['") || next.contains("[\""))
        {
            i += 1;
            while i < lines.len() && detail.len() < 8 {
                let l = lines[i].trim_end();
                if PY_TRACEBACK.is_match(l) || PY_CHAINED.contains(&l.trim()) {
                    break;
                }
                if !l.is_empty() {
                    detail.push(l.trim().to_string());
                }
                i += 1;
            }
        }
        // A chained traceback follows the separator.
        let mut j = i;
        while j < lines.len() && lines[j].trim().is_empty() {
            j += 1;
        }
        // An exception group (`… (2 sub-exceptions)`): its first
        // sub-exception, once the gutter is gone, follows; that is the
        // failure, the group what it surfaced as.
        if SUB_EXCEPTIONS.is_match(&raised.message)
            && let Some(next) = lines.get(j)
        {
            if PY_TRACEBACK.is_match(next) {
                chain.push(raised);
                i = j + 1;
                continue;
            }
            if PY_RAISED.is_match(next) || PY_QUALIFIED.is_match(next) {
                chain.push(raised);
                i = j;
                continue;
            }
        }
        let chained = lines.get(j).is_some_and(|l| PY_CHAINED.contains(&l.trim()));
        if chained {
            let mut k = j + 1;
            while k < lines.len() && lines[k].trim().is_empty() {
                k += 1;
            }
            if lines.get(k).is_some_and(|l| PY_TRACEBACK.is_match(l)) {
                chain.push(raised);
                i = k + 1;
                continue;
            }
        }
        return (
            Some(TerminalError {
                runtime: Runtime::Python,
                error: raised,
                chain,
                detail,
                index: at,
                place: None,
                before: Vec::new(),
                stack: Vec::new(),
                library: None,
                usage: Vec::new(),
                own_frame: None,
                loaded_by: None,
                after: Vec::new(),
            }),
            i,
        );
    }
}

/// A Java exception at `start`, with its `Caused by:` chain (the last one,
/// the root cause, is the error); returns it and the index after it.
fn java(lines: &[&str], start: usize, first: &regex::Captures<'_>) -> (TerminalError, usize) {
    let raise = |c: &regex::Captures<'_>| Raised {
        kind: Some(c["kind"].to_string()),
        message: c.name("message").map_or("", |m| m.as_str()).to_string(),
    };
    let mut chain = vec![raise(first)];
    let mut index = start;
    let mut i = start + 1;
    while i < lines.len() {
        let l = lines[i].trim_end();
        if l.trim_start().starts_with("at ") || l.trim_start().starts_with("... ") {
            i += 1;
            continue;
        }
        match JAVA_RAISED.captures(l) {
            Some(c) if l.starts_with("Caused by: ") => {
                chain.push(raise(&c));
                index = i;
                i += 1;
            }
            _ => break,
        }
    }
    let error = chain.pop().expect("UNWRAP: the first is there");
    chain.reverse();
    (
        TerminalError {
            runtime: Runtime::Java,
            error,
            chain,
            detail: Vec::new(),
            index,
            place: None,
            before: Vec::new(),
            stack: Vec::new(),
            library: None,
            usage: Vec::new(),
            own_frame: None,
            loaded_by: None,
            after: Vec::new(),
        },
        i,
    )
}

/// A Node.js error at `i`: `Type [CODE]: message` followed by stack frames
/// (or by the object dump of a thrown error); returns it and the index
/// after what belongs to it.
fn node(lines: &[&str], at: usize) -> Option<(TerminalError, usize)> {
    let i = at;
    let line = lines[i].trim_end();
    // An error with properties of its own, inspected without its stack:
    // `[Error: ENOSPC: no space left on device, write] {`, then the
    // properties (`errno`, `code`, `syscall`).
    let inspected = line
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix("] {").or_else(|| l.strip_suffix(']')));
    let raised = NODE_RAISED.captures(inspected.unwrap_or(line))?;
    let next = lines.get(i + 1).map_or("", |l| l.trim_end());
    // A message of several lines before the frames (dotenv-safe lists the
    // missing variables there): those lines are its detail.
    let mut message_lines = Vec::new();
    // Right under the code's caret, it is the error even without frames
    // (a thrown plain object has none).
    let under_caret = i.checked_sub(1).is_some_and(|p| lines[p].trim() == "^");
    if inspected.is_none() && !NODE_FRAME.is_match(next) && !next.trim_start().starts_with('{') {
        match (i + 1..lines.len().min(i + 14)).find(|&j| NODE_FRAME.is_match(lines[j])) {
            Some(frames_at) => {
                message_lines = lines[i + 1..frames_at]
                    .iter()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
            }
            None if under_caret => {}
            None => return None,
        }
    }
    let mut error = Raised {
        kind: Some(raised["kind"].to_string()),
        message: raised["message"].to_string(),
    };
    // A template engine's error (EJS, Pug): the first line is the place
    // (`TypeError: /app/views/statement.ejs:3`), then the template's lines,
    // then what went wrong.
    if PLACE_ONLY.is_match(&error.message)
        && let Some(at) = message_lines
            .iter()
            .rposition(|l| !TEMPLATE_EXCERPT.is_match(l))
    {
        let said = message_lines.remove(at);
        let place = std::mem::replace(&mut error.message, said);
        message_lines.insert(0, place);
    }
    let mut code = raised.name("code").map(|m| m.as_str().to_string());
    let mut chain = Vec::new();
    let mut detail = Vec::new();
    let mut j = i + 1;
    while j < lines.len() {
        let l = lines[j].trim_end();
        if NODE_FRAME.is_match(l) {
            j += 1;
            continue;
        }
        if let Some(m) = NODE_CODE.captures(l) {
            code.get_or_insert_with(|| m["code"].to_string());
            j += 1;
            continue;
        }
        if let Some(m) = NODE_CAUSE.captures(l) {
            // `[cause]: Error: connect ECONNREFUSED …`: the root cause.
            let rest = m["rest"].trim_end_matches('{').trim();
            let inner = NODE_RAISED.captures(rest).map_or_else(
                || Raised {
                    kind: None,
                    message: rest.to_string(),
                },
                |c| Raised {
                    kind: Some(c["kind"].to_string()),
                    message: c["message"].to_string(),
                },
            );
            chain.push(std::mem::replace(&mut error, inner));
            j += 1;
            continue;
        }
        let t = l.trim();
        let in_dump = t.starts_with('{')
            || t.starts_with('}')
            || t.starts_with('[')
            || t.starts_with(']')
            || (t.contains(": ") && l.starts_with("  "));
        if in_dump {
            // A parser's error object can run to a hundred lines: all of
            // it belongs to the error, the first few are kept.
            if detail.len() < 12 {
                detail.push(t.to_string());
            }
            j += 1;
            continue;
        }
        break;
    }
    detail.splice(0..0, message_lines);
    if let Some(code) = code {
        detail.insert(0, format!("code: {code}"));
    }
    Some((
        TerminalError {
            runtime: Runtime::Node,
            error,
            chain,
            detail,
            index: i,
            place: None,
            before: Vec::new(),
            stack: Vec::new(),
            library: None,
            usage: Vec::new(),
            own_frame: None,
            loaded_by: None,
            after: Vec::new(),
        },
        j,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(text: &str) -> TerminalError {
        let lines: Vec<&str> = text.lines().collect();
        find(&lines).pop().expect("a terminal error")
    }

    #[test]
    fn python_takes_the_last_line_of_the_last_traceback_of_a_chain() {
        let t = last(
            "Traceback (most recent call last):
  File \"/app/db.py\", line 3, in connect
    sock.connect(addr)
ConnectionRefusedError: [Errno 111] Connection refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"/app/main.py\", line 9, in <module>
    db.connect()
app.errors.DatabaseDown: the ledger is unreachable",
        );
        assert_eq!(t.runtime, Runtime::Python);
        assert_eq!(t.error.kind.as_deref(), Some("app.errors.DatabaseDown"));
        assert_eq!(t.chain[0].kind.as_deref(), Some("ConnectionRefusedError"));
        assert_eq!(t.index, 10);
    }

    #[test]
    fn node_reads_the_code_and_the_cause() {
        let t = last(
            "TypeError: fetch failed
    at node:internal/deps/undici/undici:13510:13
    at async main (/app/index.js:3:3) {
  [cause]: Error: connect ECONNREFUSED 127.0.0.1:9999
      at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16) {
    errno: -111,
    code: 'ECONNREFUSED',
    syscall: 'connect',
    address: '127.0.0.1',
    port: 9999
  }
}",
        );
        assert_eq!(t.runtime, Runtime::Node);
        assert_eq!(t.error.message, "connect ECONNREFUSED 127.0.0.1:9999");
        assert_eq!(t.chain[0].message, "fetch failed");
        assert_eq!(t.detail[0], "code: ECONNREFUSED");
    }

    #[test]
    fn java_takes_the_root_cause() {
        let t = last(
            "Exception in thread \"main\" java.lang.RuntimeException: cannot start
\tat App.main(App.java:5)
Caused by: java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.connect0(Native Method)
\t... 3 more",
        );
        assert_eq!(t.error.kind.as_deref(), Some("java.net.ConnectException"));
        assert_eq!(t.chain[0].message, "cannot start");
    }

    #[test]
    fn last_words_skip_a_usage_text_and_take_a_block_with_its_opener() {
        let flags = "notifier: SMTP relay not configured: set SMTP_ADDR
Usage of /srv/bin/notifier:
  -smtp-addr string
    \tSMTP relay host:port (env SMTP_ADDR)
  -workers int
    \tdelivery workers (default 4)";
        let lines: Vec<&str> = flags.lines().collect();
        assert_eq!(
            last_words(&lines).unwrap().error.message,
            "notifier: SMTP relay not configured: set SMTP_ADDR"
        );
        let zod = "starting auth-api
Invalid environment variables: {
  \"JWT_SECRET\": [
    \"Invalid input: expected string, received undefined\"
  ]
}";
        let lines: Vec<&str> = zod.lines().collect();
        let t = last_words(&lines).unwrap();
        assert_eq!(t.error.message, "Invalid environment variables");
        assert_eq!(t.detail[0], "\"JWT_SECRET\": [");
    }

    #[test]
    fn an_exception_group_is_read_without_its_gutter() {
        let all = find(&[
            "  + Exception Group Traceback (most recent call last):",
            "  |   File \"/app/main.py\", line 3, in <module>",
            "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
            "  +-+---------------- 1 ----------------",
            "    | Traceback (most recent call last):",
            "    |   File \"/app/db.py\", line 9, in connect",
            "    | ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 6379)",
            "    +------------------------------------",
        ]);
        // One failure: the sub-exception, surfaced as the group.
        let kinds: Vec<&str> = all.iter().filter_map(|t| t.error.kind.as_deref()).collect();
        assert_eq!(kinds, ["ConnectionRefusedError"]);
        assert_eq!(all[0].chain[0].kind.as_deref(), Some("ExceptionGroup"));
    }

    #[test]
    fn a_json_log_line_gives_its_error_type() {
        let line = r#"{"level":60,"msg":"startup failed","err":{"type":"TimeoutError","message":"The operation was aborted due to timeout"}}"#;
        let t = last_words(&[line]).unwrap();
        assert_eq!(t.error.kind.as_deref(), Some("TimeoutError"));
        assert_eq!(
            t.error.message,
            "startup failed: The operation was aborted due to timeout"
        );
    }

    #[test]
    fn the_library_is_the_innermost_installed_package() {
        let py = last(
            "Traceback (most recent call last):
  File \"/app/consumer.py\", line 31, in main
    connection = pika.BlockingConnection(params)
  File \"/venv/lib/python3.11/site-packages/pika/adapters/blocking_connection.py\", line 478, in _create_connection
    raise error
pika.exceptions.AMQPConnectionError",
        );
        assert_eq!(py.library.as_deref(), Some("pika"));
        let node = last(
            "ClusterAllFailedError: Failed to refresh slots cache.
    at tryNode (/app/node_modules/ioredis/built/cluster/index.js:336:31)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        );
        assert_eq!(node.library.as_deref(), Some("ioredis"));
        let decouple = last(
            "Traceback (most recent call last):
  File \"/venv/lib/python3.11/site-packages/decouple.py\", line 92, in get
decouple.UndefinedValueError: SECRET not found.",
        );
        assert_eq!(decouple.library.as_deref(), Some("decouple"));
        let gem = last(
            "/app/app.rb:3:in 'connect': Connection refused (Redis::CannotConnectError)
\tfrom /var/lib/gems/3.1.0/gems/redis-5.0.8/lib/redis/client.rb:10:in 'call'",
        );
        assert_eq!(gem.library.as_deref(), Some("redis"));
        assert_eq!(gem.place.as_deref(), Some("/app/app.rb:3"));
    }

    #[test]
    fn go_rust_ruby_perl_and_shell_shapes() {
        assert_eq!(
            last("panic: runtime error: invalid memory address or nil pointer dereference").runtime,
            Runtime::Go
        );
        let rust = last("thread 'main' panicked at src/main.rs:3:5:\nboom");
        assert_eq!(
            (rust.runtime, rust.error.message.as_str()),
            (Runtime::Rust, "boom")
        );
        let ruby = last(
            "app.rb:3:in 'initialize': Connection refused - connect(2) for \"127.0.0.1\" port 6390 (Errno::ECONNREFUSED)",
        );
        assert_eq!(ruby.error.kind.as_deref(), Some("Errno::ECONNREFUSED"));
        let perl = last("API_TOKEN not set at app.pl line 4.");
        assert_eq!(
            (perl.runtime, perl.error.message.as_str()),
            (Runtime::Perl, "API_TOKEN not set")
        );
        let sh = last("./start.sh: line 3: ./venv/bin/gunicorn: No such file or directory");
        assert_eq!(sh.runtime, Runtime::Shell);
        assert_eq!(
            sh.error.message,
            "./venv/bin/gunicorn: No such file or directory"
        );
    }

    #[test]
    fn node_reads_an_error_inspected_with_its_properties() {
        let t = last(
            "asset-unpack: extracting bundle into /mnt/assets
node:internal/modules/run_main:123
    triggerUncaughtException(
    ^

[Error: ENOSPC: no space left on device, write] {
  errno: -28,
  code: 'ENOSPC',
  syscall: 'write'
}

Node.js v20.20.2",
        );
        assert_eq!(t.runtime, Runtime::Node);
        assert_eq!(t.error.message, "ENOSPC: no space left on device, write");
        assert!(
            t.before.iter().any(|l| l.contains("/mnt/assets")),
            "{:?}",
            t.before
        );
    }

    #[test]
    fn perl_stack_trace_objects_give_their_message_not_a_frame() {
        let t = last(
            "mailer: relay 127.0.0.1:2525
unable to establish SMTP connection to (127.0.0.1) port 2525

Trace begun at /usr/share/perl5/Email/Sender/Transport/SMTP.pm line 232
Email::Sender::Transport::SMTP::_throw('Email::Sender::Transport::SMTP=HASH(0x55)', 'unable') called at /usr/share/perl5/Email/Sender/Transport/SMTP.pm line 175
eval {...} at /usr/share/perl5/Try/Tiny.pm line 93
Sub::Exporter::Util::__ANON__('Email::Simple=HASH(0x55)') called at mailer.pl line 10
",
        );
        assert_eq!(t.runtime, Runtime::Perl);
        assert_eq!(
            t.error.message,
            "unable to establish SMTP connection to (127.0.0.1) port 2525"
        );
        assert_eq!(t.place.as_deref(), Some("mailer.pl line 10"));
    }

    #[test]
    fn php_and_help_texts_of_several_lines() {
        let t = last(
            "PHP Fatal error:  Uncaught Carbon\\Exceptions\\InvalidFormatException: Unexpected data found.
Trailing data in /usr/share/php/Carbon/Traits/Creator.php:676
Stack trace:
#0 {main}",
        );
        assert_eq!(t.error.message, "Unexpected data found. Trailing data");
        assert_eq!(
            t.place.as_deref(),
            Some("/usr/share/php/Carbon/Traits/Creator.php:676")
        );
        // A help text printed before the error is not where the error is.
        let lines = [
            "USAGE:",
            "   archiver [global options] command",
            "GLOBAL OPTIONS:",
            "   --month value    invoice month",
            "2026/12/03 19:35:54 Required flag \"month\" not set",
        ];
        assert_eq!(
            last_words(&lines).unwrap().error.message,
            "Required flag \"month\" not set"
        );
    }

    #[test]
    fn last_words_prefer_the_line_that_says_where_and_skip_a_hint() {
        let lines = [
            "PHP Warning:  syntax error, unexpected '!' in /etc/purge.ini on line 5",
            "purge: could not parse config /etc/purge.ini",
        ];
        assert!(last_words(&lines).unwrap().error.message.contains("line 5"));
        let lines = [
            "In 'config': Could not find 'db/primary'",
            "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
        ];
        assert!(
            last_words(&lines)
                .unwrap()
                .error
                .message
                .contains("db/primary")
        );
    }

    #[test]
    fn a_comprehension_or_inline_callback_is_in_its_enclosing_function() {
        let py = [
            "Traceback (most recent call last):",
            "  File \"/srv/worker.py\", line 6, in <module>",
            "    frames = preload_frames(64)",
            "  File \"/srv/worker.py\", line 4, in preload_frames",
            "    return [bytearray(w * h * 4) for _ in range(count)]",
            "  File \"/srv/worker.py\", line 4, in <listcomp>",
            "    return [bytearray(w * h * 4) for _ in range(count)]",
            "MemoryError",
        ];
        let f = find(&py).pop().unwrap().own_frame.expect("own frame");
        assert_eq!(f.function.as_deref(), Some("preload_frames"));
        let node = [
            "TypeError: Cannot read properties of undefined (reading 'replace')",
            "    at Element.<anonymous> (file:///srv/scrape/index.mjs:7:48)",
            "    at LoadedCheerio.map (file:///srv/node_modules/cheerio/dist/esm/api/traversing.js:522:24)",
            "    at extractReviews (file:///srv/scrape/index.mjs:5:23)",
        ];
        let f = find(&node).pop().unwrap().own_frame.expect("own frame");
        assert_eq!((f.function.as_deref(), f.line), (Some("extractReviews"), 7));
    }

    #[test]
    fn node_reads_a_thrown_plain_object_as_the_error_it_describes() {
        let thrown = [
            "/srv/app/node_modules/json-bigint/lib/parse.js:151",
            "      throw {",
            "      ^",
            "{",
            "  name: 'SyntaxError',",
            "  message: 'Duplicate key \"accounts\"',",
            "  at: 97,",
            "  text: '{\\n' +",
            "}",
            "",
            "Node.js v20.20.2",
        ];
        let t = find(&thrown).pop().expect("an error");
        assert_eq!(t.runtime, Runtime::Node);
        assert_eq!(t.error.kind.as_deref(), Some("SyntaxError"));
        assert_eq!(t.error.message, "Duplicate key \"accounts\"");
    }

    #[test]
    fn php_and_node_frames_name_the_program_s_own_code() {
        let php = [
            "PHP Fatal error:  Uncaught RuntimeException: boom in /usr/share/php/Lib/Processor.php:94",
            "Stack trace:",
            "#0 /usr/share/php/Lib/Processor.php(49): Lib\\Processor->fail()",
            "#1 /srv/app/vendor/acme/x/src/X.php(3): Lib\\Processor->process()",
            "#2 /srv/app/tenant.php(15): Acme\\X->run()",
            "#3 {main}",
        ];
        let t = find(&php).pop().unwrap();
        let f = t.own_frame.expect("an own frame");
        assert_eq!((f.file.as_str(), f.line), ("/srv/app/tenant.php", 15));
        // Thrown on the program's own line, behind the program's prefix: the
        // function is the one the first frame called.
        let php = [
            "shift-report: PHP Fatal error:  Uncaught Error: Call to a member function format() on bool in /srv/app/report.php:10",
            "Stack trace:",
            "#0 /srv/app/report.php(13): shiftLabel()",
            "#1 {main}",
        ];
        let f = find(&php).pop().unwrap().own_frame.expect("an own frame");
        assert_eq!(
            (f.function.as_deref(), f.file.as_str(), f.line),
            (Some("shiftLabel"), "/srv/app/report.php", 10)
        );
        let node = [
            "TypeError: Cannot read properties of undefined (reading 'map')",
            "    at Object.<anonymous> (/srv/app/plans.js:4:35)",
            "    at Module._compile (node:internal/modules/cjs/loader:1521:14)",
            "    at require (node:internal/modules/helpers:182:18)",
            "    at Object.<anonymous> (/srv/app/reminders.js:1:25)",
        ];
        let t = find(&node).pop().unwrap();
        assert_eq!(t.loaded_by.as_deref(), Some("/srv/app/reminders.js:1"));
    }

    #[test]
    fn a_traceback_in_a_json_log_line_is_read_as_its_lines() {
        let line = r#"{"levelname": "ERROR", "message": "run aborted", "exc_info": "Traceback (most recent call last):\n  File \"/srv/settlement.py\", line 9, in settle_batch\n    net += e[\"amount\"] - e[\"fee\"]\nKeyError: 'fee'", "batch": "B-1"}"#;
        let lines = embedded_trace(line);
        assert_eq!(lines.last().map(String::as_str), Some("KeyError: 'fee'"));
        assert_eq!(lines[2], r#"    net += e["amount"] - e["fee"]"#);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let t = find(&lines).pop().expect("a traceback");
        assert_eq!(
            t.own_frame.and_then(|f| f.function).as_deref(),
            Some("settle_batch")
        );
        assert!(embedded_trace(r#"{"message": "fine"}"#).is_empty());
        assert!(embedded_trace("plain line with \\n in it").is_empty());
    }

    #[test]
    fn a_pretty_logger_s_error_reads_as_node_s_own_with_the_enclosing_function() {
        let raw = " TypeError  Cannot read properties of undefined (reading 'trim')
error stack:
  • jobs.js\t
\tjobs.js:4
  • <anonymous>\tArray.map
\t
  • jobs.js\trebuildSearchIndex
\tjobs.js:4";
        let raw: Vec<&str> = raw.lines().collect();
        let reshaped: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, l)| {
                in_node_shape(i.checked_sub(1).map(|p| raw[p]), l).unwrap_or_else(|| (*l).into())
            })
            .collect();
        assert_eq!(
            reshaped[0],
            "TypeError: Cannot read properties of undefined (reading 'trim')"
        );
        assert_eq!(reshaped[7], "    at rebuildSearchIndex (jobs.js:4:0)");
        let t = last(&reshaped.join("\n"));
        let frame = t.own_frame.clone().expect("an own frame");
        assert_eq!(frame.function.as_deref(), Some("rebuildSearchIndex"));
        assert_eq!(frame.line, 4);
    }
}
