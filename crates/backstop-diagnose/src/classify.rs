//! Classification by structure: a terminal error ([`crate::terminal`]) is
//! named by what is stable across runtimes and phrasings — its exception
//! type and the types it was raised from, the errno it carries
//! ([`crate::errno`]), the address it names ([`crate::address`]) — and by
//! what backstop itself knows about the service ([`Context`]).
//!
//! Phrase patterns ([`crate::rules`]) come after this, for what has no
//! structure (a log line of a framework, backstop's own messages).

use std::sync::LazyLock;

use regex::Regex;

use crate::address::{self, Address, Known};
use crate::errno::{self, Errno};
use crate::terminal::{Runtime, TerminalError};

/// What backstop knows about the service, beside its output.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Addresses its environment, env file and config declare.
    pub known: Vec<Known>,
    /// Ports of the service itself (`port`, its own checks): a refusal on
    /// one of these is the service not listening, never a dependency.
    pub own_ports: Vec<u16>,
    /// Its last exit: `code 127`, `SIGSEGV`.
    pub exit: Option<String>,
    /// Its open-files limit, when known (to name it in `resource-limit`).
    pub open_files_limit: Option<u64>,
    /// Its environment (names and values): a path a variable holds names
    /// the file an error does not (`LOG_CONFIG` → `/srv/app/logging.ini`),
    /// a variable's name the setting an error calls by a word (`BadDsn` →
    /// `SENTRY_DSN`). Values are shown only when they are paths.
    pub env: Vec<(String, String)>,
    /// The evidence sources that are the program's own output (its log,
    /// its preflight run): terminal errors are looked for there only, never
    /// in backstop's own messages. Empty: every source.
    pub output_sources: Vec<String>,
    /// Its working directory: a relative path an error names
    /// (`.env.production`) is shown as the file it is.
    pub dir: Option<String>,
    /// Its command line: a file a flag passes (`--config /etc/app.toml`,
    /// `-Dconfig.file=/srv/app.conf`) is a file it reads, as a path
    /// variable of its environment is.
    pub command: Vec<String>,
}

impl Context {
    /// `path` as the service sees it: joined to its working directory when
    /// relative (and the directory is known).
    #[must_use]
    pub fn absolute(&self, path: &str) -> String {
        match &self.dir {
            Some(dir) if !path.starts_with('/') && !path.starts_with('~') => {
                let rel = path.strip_prefix("./").unwrap_or(path);
                format!("{}/{rel}", dir.trim_end_matches('/'))
            }
            _ => path.to_string(),
        }
    }
}

/// A cause named by structure: its id and its one-line summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// The cause id.
    pub id: &'static str,
    /// The summary, with the specifics.
    pub summary: String,
    /// Named from a fact specific enough (a missing `.env` file by its path)
    /// to outrank the phrase rules even from a program's last words.
    pub strong: bool,
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "every branch of the classifier answers `Option<Named>`: one spelling for all"
)]
fn named(id: &'static str, summary: String) -> Option<Named> {
    Some(Named {
        id,
        summary,
        strong: false,
    })
}

/// [`named`], strong: see [`Named::strong`].
#[allow(
    clippy::unnecessary_wraps,
    reason = "every branch of the classifier answers `Option<Named>`: one spelling for all"
)]
fn strongly_named(id: &'static str, summary: String) -> Option<Named> {
    Some(Named {
        id,
        summary,
        strong: true,
    })
}

macro_rules! re {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($pattern).expect("UNWRAP: a constant pattern"));
    };
}

re!(
    MODULE,
    r#"(?i)(?:no module named|cannot find (?:module|package)|can't locate|cannot load such file --|could not find or load main class|NoClassDefFoundError:|ClassNotFoundException:|no required module provides package|cannot find package)\s*['"`]?(?P<module>[\w./@$:-]+?)['"`]?(?:\s|$|,|\)|;)"#
);
re!(
    PHP_MISSING,
    r#"(?i)(?:class|interface|trait) "(?P<module>[\w\\]+)" not found|call to undefined function (?P<function>[\w\\]+)\("#
);
re!(NODE_PATH_FIELD, r"path: '(?P<path>[^']+)'");
re!(
    PERL_INSTALL,
    r"you may need to install the (?P<module>[\w:]+) module"
);
re!(
    OPTIONAL_PACKAGE,
    r#"(?i)(?:could not|cannot|can't|unable to|failed to) (?:load|find|import|require)(?: the)?(?: optional| required)? (?:(?:module|package|gem|library|dependency|extension|plugin) ['"`]?(?P<module>[\w@/.:-]+?)['"`]?(?:[\s,.;]|$)|['"`](?P<named>[\w@/.:-]+)['"`] (?:module|package|gem|library|dependency|extension|plugin))"#
);
re!(
    DEPENDENCIES_DIR,
    r"(?P<path>\S*/(?:vendor/autoload\.php|node_modules/\S+|site-packages/\S+|dist-packages/\S+|gems/\S+|pkg/mod/\S+))"
);
re!(
    CONFIG_KEY_INVALID,
    r#"(?i)^(?:\w+: )?(?:required )?(?:configuration |config )?(?:option|setting|key|parameter|property|field|variable|value) ['"`](?P<name>[\w.-]+)['"`] (?:is |was )?(?:missing|required|not set|not defined|undefined|not found|not provided|not configured|invalid|must)"#
);
re!(
    DOTTED_SETTING,
    r"^(?P<name>[a-z][\w-]*(?:\.[\w-]+)+): .*\b(?:must|should|invalid|expected|required|not allowed|cannot be|out of range)\b"
);
re!(
    TLS_MATERIAL,
    r"(?i)\b(?:PEM|x509|certificate|private key|keystore|truststore|tls: |BIO routines|PEM routines|no start line)"
);
re!(
    CYCLE,
    r"cannot import name '(?P<name>[^']+)' from partially initialized module '(?P<module>[^']+)'"
);
re!(
    SETTING,
    r"\b(?P<name>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,}[0-9]*)\b"
);
re!(
    SETTING_SAID,
    r"(?i)\b(?:not set|must be set|must be defined|is required|are required|required|missing|undefined|is empty|must not be empty|cannot be empty|can't be empty|must not be blank|is blank|not defined|not configured|not provided|unset|no value|key not found|not found in (?:the )?environment|unbound variable)\b"
);
re!(
    QUOTED_PATH,
    r#"['"`](?P<path>(?:/|\./|\.\./|~/)?[\w.@+-]+(?:/[\w.@+-]+)*\.?[\w]*)['"`]"#
);
re!(
    BARE_PATH,
    r"(?P<path>(?:/|\./|\.\./)[\w.@+-]+(?:/[\w.@+-]*)*)"
);
re!(
    AUTH,
    r"(?i)password authentication failed|WRONGPASS|NOAUTH|invalid username-password|access denied for user|authentication failed|invalidpassworderror|invalid password|auth(?:entication)? required|SASL authentication failed|AuthenticationError|\b401 Unauthorized\b|\bstatus(?: code)?:? 401\b|HTTP(?:/[\d.]+)? 401\b|invalid_token|invalid api key|\b403 Forbidden\b|\b(?:refused|rejected|wrong|bad|incorrect) (?:the )?password\b|\bpassword (?:was )?(?:refused|rejected|incorrect)\b|\b(?:rejected|refused) (?:the |our )?credentials\b|\bcredentials (?:are |were )?(?:invalid|rejected|refused)\b|\b535[ -]5\.7\.\d\b|\b5\.7\.8\b|\b(?:could not|couldn't|unable to|failed to) authenticate\b|\bnot authori[sz]ed\b|\blogin (?:to \S+ )?failed\b|\bfailed to log ?in\b|\blogin incorrect\b"
);
re!(
    OPENED,
    r#"(?:open|stat|read|load|reading|opening|loading)\s+['"]?(?P<path>/[\w./@+-]+|[\w./@+-]+\.\w+)['"]?:"#
);
re!(
    NO_SCRIPT,
    r"can't open file '(?P<program>[^']+)': \[Errno 2\]"
);
re!(
    CONNECT_FAILED,
    r"(?i)\b(?:could not|couldn't|couldnt|cannot|can't|unable to|failed to|error) connect(?:ing)? to\b|\bcouldnt_connect\b|\bconnection failure\b|\b(?:could not|couldn't|cannot|can't|unable to|failed to) (?:establish|open|make|create) (?:an? |the )?(?:[\w-]+ )?connection\b"
);
re!(
    DOWN,
    r"(?i)\b(?:not ready|not available|unavailable|no response|not responding|is down|giving up|gave up|timeout|timed out|no servers available|unreachable(?: hosts?)?|connection (?:broken|dropped|lost)|(?:can't|cannot|could not|couldn't|unable to) contact)\b"
);
re!(
    NAME_NOT_FOUND,
    r#"['"`]?\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b['"`]?(?: was| is)? not (?:found|set|defined)\b"#
);
re!(
    ENV_INVALID,
    r"(?i)\b(?:invalid|missing|required|undefined|unset|bad)\b[^.]*\benv(?:ironment)?(?:[ _-]?var(?:iable)?s?)?\b|\benv(?:ironment)?(?:[ _-]?var(?:iable)?s?)?\b[^.]*\b(?:invalid|missing|required|undefined|not set|not found|not defined)\b"
);
re!(QUOTED_NAME, r#"['"`](?P<name>[A-Za-z_][\w.]*)['"`]"#);
re!(
    PARSE_POSITION,
    r"(?i)\bat line \d+|\bline \d+(?:,? col(?:umn)? \d+)?:|\bat position \d+|\bunexpected (?:token|character|end)|\bmissing quote\b"
);
re!(
    PARSE_SAID,
    r"(?i)\b(?:pars(?:e|ing)|unmarshal(?:l?ing)?|decod(?:e|ing)|invalid (?:yaml|json|toml|ini))\b"
);
re!(
    CONFIG_WORD,
    r"(?i)\bconfig(?:uration)?\b|\bsettings\b|\b(?:yaml|json|toml|ini):|\.(?:ya?ml|json5?|hjson|toml|ini|conf|cfg|hcl|xml)\b"
);
re!(
    CONFIG_SAID,
    r"(?i)\b(?:config(?:uration)?|settings?|env(?:ironment)?(?: variables?)?)\b[^.]{0,40}?\b(?:error|invalid|validation|missing|must|required)\b|\b(?:invalid|bad|broken|incomplete)(?: \w+)? (?:config(?:uration)?|settings)\b"
);
re!(
    CHDIR,
    r"(?i)\bchdir\b|\bcd\b:|\bpushd\b:|\bworking directory\b|\bworkdir\b|\bcwd\b"
);
re!(
    ENV_FILE_WORD,
    r"(?:^|[\s=\[(])(?P<path>\.env(?:\.[\w-]+)*|[\w-]+\.env)\b:?"
);
re!(
    QUOTED_SETTING,
    r#"(?i)\b(?:property|setting|key|option|variable|parameter|field)\s+['"`](?P<name>[\w.-]+)['"`]"#
);
re!(
    MEMORY_EXHAUSTED,
    r"(?i)\bmemory (?:size |limit )?(?:of \d+ bytes )?(?:exhausted|exceeded)\b|\b(?:failed|unable|cannot|could not) (?:to )?allocate \d+|\ballocation failed\b.*\bmemory\b"
);
re!(
    GO_MODULE_LOOKUP,
    r"module lookup disabled by GOPROXY|cannot find module providing package|missing go\.sum entry for module providing package|no required module provides package"
);
re!(
    SOURCED_MISSING,
    r"\bline \d+: (?P<file>/[^:]+): No such file or directory$"
);
re!(
    UNKNOWN_DRIVER,
    r#"(?i)\bunknown driver "(?P<driver>[^"]+)"|No suitable driver found for (?P<url>\S+)|\bdriver (?:not found|not registered)(?::| for)? ['"]?(?P<driver2>[\w.:-]+)?"#
);
re!(
    NODE_EXCERPT,
    r"^(?:/\S+:\d+|throw\b.*;|\S+\.(?:c|m)?js:\d+)$"
);
re!(SUBSCRIPT, r"\['(?P<field>[\w.-]+)'\]");
re!(SQLITE_PATH, r"dbname=(?P<path>[^'\s;,]+)");
re!(
    SQLITE_READONLY,
    r"attempt to write a readonly database|SQLITE_READONLY"
);
re!(
    CLI_REQUIRED,
    r"(?i)the following arguments are required: (?P<args>.+)|missing (?:required )?(?:option|argument|parameter)(?:s|\(s\))?:? \[?['\x22`]?(?P<arg>[-\w]+)|required option ['\x22`](?P<opt>[^'\x22`]+)['\x22`] not specified|required flag\(s\) (?P<flag>(?:\x22[^\x22]+\x22(?:, )?)+) not set|missing required argument:? ['\x22`]?(?P<req>[-\w]+)|following options? (?:is|are) required: \[?(?P<listed>--?[\w-]+)|option requires (?:an )?argument:? (?P<oreq>--?[\w-]+)|required options? ['\x22`](?P<quoted>--?[\w-]+)['\x22`]|required flags? ['\x22`](?P<rflag>[\w-]+)['\x22`] (?:is )?not set|option (?P<must>--?[\w-]+) must be (?:specified|given|provided)|missing required flags?\b|required (?:flag|option|argument)s? [`'\x22](?P<was>--?[\w-]+)['`\x22] (?:was|is) not (?:specified|given|provided|set)|option [`'\x22](?P<isreq>--?[\w-]+)['`\x22] is required|missing required args? for command [`'\x22](?P<cmd>[^`'\x22]+)[`'\x22]|not enough arguments \(missing: [`'\x22](?P<cleo>[\w-]+)[`'\x22]\)"
);
re!(
    FAILURE_SAID,
    r"(?i)\b(?:did not|didn't|does not|doesn't) (?:answer|respond|reply|send)|\bno (?:answer|response|reply|greeting)\b|\bnot respond|\bwithin \d|\btimed? ?out\b|\bunavailable\b|\bunreachable\b|\brefus|\bclosed the connection\b|\bconnection (?:lost|closed)\b|\b(?:couldn't|could not|cannot|can't|failed to|unable to) (?:load|fetch|reach|contact|connect)\b|\bno reachable (?:servers?|hosts?|nodes?|brokers?|members?)\b|\bno (?:servers?|hosts?|nodes?|brokers?) (?:available|reachable|alive)\b"
);
re!(
    FORMAT_FAILURE,
    r"(?i)unexpected (?:token|close tag|end|eof|character|char)\b|premature end|bad string|not well-formed|incompatible types|\bbut found\b|when expecting|invalid character|unterminated|unclosed|must be terminated|Parse(?:Exception|Error)|Parser(?:Exception|Error)|(?:^|[\s:(\[])(?:toml|ya?ml|json5?|hjson|xml|ini|hocon)\b"
);
re!(
    SOMETHING_FAILED,
    r"(?i)\b(?:fail(?:s|ed|ure)?|errors?|cannot|can't|could not|couldn't|unable|refus\w*|time(?:d ?)?out|unreachable|lost|closed|down|abort\w*|no \w+|not \w+)\b"
);
re!(
    INVALID_SAID,
    r"(?i)\b(?:invalid|malformed|corrupt(?:ed)?|cannot parse|could not parse|failed to parse)\b"
);
// A value that does not convert or is not among those allowed (Go's
// `strconv.Atoi: parsing "1k"`, Ruby's `invalid value for Integer()`, Java's
// `For input string: "x"`, `must be one of`).
re!(
    VALUE_REJECTED,
    r"(?i)\binvalid (?:value|syntax|literal|format|number|integer|input|duration|boolean|bool|level|choice|option|setting)\b|\bnot a valid\b|\b(?:cannot|can't|could not|couldn't|failed to|unable to) (?:be )?(?:parse|convert)|\bparsing [\x22'`]|For input string|\bmust be (?:a|an|one of|between|at least|at most|positive|greater|less)\b|\bis not one of\b|\bnot (?:allowed|supported|recogni[sz]ed)\b|\bout of range\b|\bexpected (?:a |an )?(?:number|integer|int|float|boolean|bool|duration)\b"
);
re!(
    LAUNCHED_MISSING,
    r"^(?:[\w.-]+: )?(?P<program>[\w.+-]+): No such file or directory$"
);
re!(
    CLI_OPTION_REQUIRED,
    r#"(?i)\boption [`'"]--?[\w-]+['`"] is required\b"#
);
re!(
    RUN_COMMAND_FAILED,
    r"failed to run command [‘'`\x22](?P<program>[^’'`\x22]+)[’'`\x22]: No such file or directory"
);
re!(ISSUE_MESSAGE, r#"^"?message"?:\s*["'](?P<said>[^"']+)["']"#);
re!(SPAWN_EAGAIN, r"\bspawn \S+ EAGAIN\b");
re!(SPAWN_ENOENT, r"\bspawn (?P<program>[\w./-]+) ENOENT\b");
re!(
    DATA_VERDICT,
    r"(?i)^\(\d+, ?\d+\):|\bat line \d+,? col(?:umn)? \d+|\bdeserializ|\brequired (?:keys?|fields?|propert(?:y|ies)|settings?|options?|parameters?)\b.{0,80}?\b(?:missing|not (?:provided|set|found|defined|present)|absent)\b|\bmissing required (?:keys?|fields?|propert(?:y|ies)|settings?|options?)\b|\bfield is required\b|\bis a required (?:field|property|key|setting)\b|\b(?:invalid_type|invalid_enum_value|invalid_literal|too_small|too_big|unrecognized_keys)\b|\bexpected (?:a |an )?\w+,? but (?:got|received|found)\b|^at path:? |\bat \d+:\d+: |\bat column \d+|<string>:\d+|\bexpected\b.{0,40}\bgot\b|\brequires property\b|\bdoes not contain (?:the )?(?:fields?|keys?|properties)\b|\bfailed on the '\w+' tag\b|\bdoes not match (?:the )?pattern\b"
);
re!(
    ENV_SCHEMA_FAILED,
    r"(?i)(?:parsing|validating|loading|reading) (?:the )?environment\b|\benvironment variables? (?:are |is )?(?:missing|invalid|not set)|\binvalid environment(?: variables?)?\b"
);
// io-ts: `Invalid value undefined supplied to : { … }/LOYALTY_DB_URL: string`.
re!(
    CODEC_PATH_VARIABLE,
    r"\}/(?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]+):"
);
re!(
    QUOTED_VARIABLE,
    r#"['"`](?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]+)['"`]"#
);
re!(USAGE_HEAD, r"(?i)^usage(?: of \S+)?:\s*");
re!(USAGE_OPTIONAL, r"\[[^\]]*\]|\([^)]*\|[^)]*\)");
re!(USAGE_REQUIRED, r"(?:^|\s)(?P<opt>--?[A-Za-z][\w-]*)");
re!(ENV_LISTED, r"^\s*\[?(?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]+)\]?:");
re!(
    VALUE_EMPTY,
    r"\b(?P<name>[A-Za-z_][\w.]*) (?:must have a value|must be provided|is required|cannot be empty|must not be empty)\b"
);
re!(PORT_SAID, r"(?i)\bport\b[^\d\n]{0,24}?(?P<port>\d{2,5})\b");
re!(
    NONE_VALUE,
    r"NoneType|\bNone\b|\bundefined\b|[Ee]xpected a string|must be (?:a )?(?:str|string|bytes)|must have a value|must be provided|(?:is|are) required|(?:cannot|must not) be empty"
);
re!(
    ENV_READ,
    r"\b(?:env(?:ironment)?(?: variable)?|getenv|\$\{?)\s*\(?['\x22]?(?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]+)\b"
);
re!(
    CODE_ENV_READ,
    r#"(?:os\.environ(?:\.get)?|os\.getenv|getenv|process\.env|ENV\.fetch|ENV|System\.getenv|os\.Getenv|os\.LookupEnv|env::var|\$_ENV|\$_SERVER|\$ENV)\s*[(\[{]\s*['"]?(?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]+)|process\.env\.(?P<v2>[A-Z][A-Z0-9]*_[A-Z0-9_]+)"#
);
re!(LAST_QUOTED_NAME, r"'(?P<name>[A-Za-z_][\w.-]*)'\W*$");
re!(GO_DOWNLOADING, r"^go: downloading (?P<module>\S+)");
re!(
    GO_PACKAGE,
    r"package (?P<module>[\w.-]+\.[\w.-]+/\S+?)[:;\s]"
);
re!(
    PARSE_FAILED_SAID,
    r"(?i)^(?:\w+ )?(?:syntax|parse|parsing) error\b"
);
re!(
    BIND_SAID,
    r"(?i)\b(?:bind(?:ing)?|listen(?:ing)?(?: on)?|serving on|starting on)\b"
);
re!(PYDANTIC_FIELD, r"^(?P<field>[A-Za-z_][\w.]*)$");
re!(
    GUNICORN_APP,
    r"Failed to find (?:attribute|application object) '(?P<name>[^']+)' in '(?P<module>[^']+)'"
);
re!(
    CONFIG_FILE,
    r"(?:/|\./)?[\w./-]+\.(?:json5?|hjson|ya?ml|toml|ini|cfg|conf|env|hcl|xml|properties|hocon)\b|in JSON at position"
);

/// The short name of an exception type: `psycopg.OperationalError` →
/// `OperationalError`, `Errno::ECONNREFUSED` → `ECONNREFUSED`.
fn short(kind: &str) -> &str {
    kind.rsplit(['.', ':', '$']).next().unwrap_or(kind)
}

/// The words of a type name: `AMQPConnectorStackTimeout` → `AMQP`,
/// `Connector`, `Stack`, `Timeout`.
fn type_words(kind: &str) -> Vec<&str> {
    let b = kind.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    for i in 1..b.len() {
        let upper = b[i].is_ascii_uppercase();
        let after_lower = b[i - 1].is_ascii_lowercase() || b[i - 1].is_ascii_digit();
        let ends_acronym =
            b[i - 1].is_ascii_uppercase() && b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        if upper && (after_lower || ends_acronym) {
            out.push(&kind[from..i]);
            from = i;
        }
    }
    out.push(&kind[from..]);
    out
}

/// A type whose name says the other side could not be reached or did not
/// answer in time: `…Timeout…`, `Connection…Error`, `…Unavailable…`.
fn unreachable_type(kind: &str) -> bool {
    UNREACHABLE_TYPES.contains(&kind)
        || has_word(kind, &["DNS", "Dns"])
            && has_word(kind, &["Error", "Exception", "Failed", "Failure"])
        || has_word(kind, &["Host", "Hostname", "Name"])
            && has_word(kind, &["Resolve", "Resolution", "Lookup", "Unresolved"])
        || has_word(kind, &["Timeout", "Unavailable", "Unreachable"])
        || has_word(kind, &["Time", "Timed"]) && has_word(kind, &["Out"])
        || has_word(kind, &["No"])
            && has_word(
                kind,
                &[
                    "Server",
                    "Servers",
                    "Host",
                    "Hosts",
                    "Available",
                    "Connection",
                ],
            )
        || has_word(kind, &["Connection", "Connect", "Connector"])
            && has_word(
                kind,
                &[
                    "Error",
                    "Exception",
                    "Failed",
                    "Failure",
                    "Refused",
                    "Reset",
                    "Closed",
                    "Lost",
                ],
            )
}

/// Whether one of the words of type name `kind` is one of `words`.
fn has_word(kind: &str, words: &[&str]) -> bool {
    type_words(kind)
        .iter()
        .any(|w| words.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// A type whose name says a configuration is wrong: `…Config…Error`,
/// `…Settings…` (not Python's `EnvironmentError`, an alias of `OSError`).
fn config_type(kind: &str) -> bool {
    CONFIG_TYPES.contains(&kind)
        || has_word(kind, &["Config", "Configuration", "Settings", "Setting"])
}

/// A type whose name says a value is absent: `UndefinedValueError`,
/// `MissingSecret`, `RequiredSettingUnset`.
fn absent_type(kind: &str) -> bool {
    has_word(kind, &["Undefined", "Missing", "Unset", "Required"])
}

/// A parser's error: the input does not parse (`ScannerError`,
/// `JSONDecodeError`, `TOMLDecodeError`, `ParserError`).
fn parse_type(kind: &str) -> bool {
    has_word(
        kind,
        &["YAML", "Yaml", "JSON", "Json", "TOML", "Toml", "INI", "Ini"],
    ) && has_word(kind, &["Exception", "Error"])
        || has_word(
            kind,
            &[
                "Scanner",
                "Parser",
                "Parse",
                "Decode",
                "Syntax",
                "Constructor",
                "Format",
            ],
        )
}

/// Types that are a bug of the program whatever library raised them.
fn programming_type(kind: &str) -> bool {
    has_word(
        kind,
        &[
            "Type",
            "Attribute",
            "Name",
            "Reference",
            "Method",
            "Key",
            "Index",
            "Value",
            "Argument",
            "Null",
            "Pointer",
            "Assertion",
            "Response",
            "Command",
            "Query",
            "Data",
            "Integrity",
            "Programming",
            "Validation",
            "Parse",
            "Syntax",
            "Unsupported",
            "Implemented",
        ],
    )
}

const MODULE_TYPES: &[&str] = &[
    "ModuleNotFoundError",
    "LoadError",
    "NoClassDefFoundError",
    "ClassNotFoundException",
];
const SYNTAX_TYPES: &[&str] = &["SyntaxError", "IndentationError", "TabError", "ParseError"];
const MEMORY_TYPES: &[&str] = &["MemoryError", "OutOfMemoryError"];
/// Exceptions of database, cache, queue and HTTP clients that mean "cannot
/// reach it", with or without an errno in the message.
const UNREACHABLE_TYPES: &[&str] = &[
    "OperationalError",
    "InterfaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectTimeoutError",
    "ReadTimeout",
    "TimeoutError",
    "PoolTimeout",
    "MaxRetryError",
    "NewConnectionError",
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ServerSelectionTimeoutError",
    "ConnectException",
    "SocketTimeoutException",
    "HttpConnectTimeoutException",
    "NoRouteToHostException",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "ECONNRESET",
    "EHOSTUNREACH",
];
const CONFIG_TYPES: &[&str] = &[
    "ImproperlyConfigured",
    "ConfigError",
    "ConfigurationError",
    "ConfigException",
    "SettingsError",
    "MissingEnvironmentVariable",
    "EnvError",
];
const FILE_TYPES: &[&str] = &[
    "FileNotFoundError",
    "NoSuchFileException",
    "FileNotFoundException",
    "ENOENT",
];

/// Names the cause of `t`, or `None` when its structure says nothing known
/// (the phrase rules and then `crashed` take over).
pub fn classify(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let kinds: Vec<&str> = std::iter::once(&t.error)
        .chain(t.chain.iter())
        .filter_map(|r| r.kind.as_deref())
        .map(short)
        .collect();
    let quote = t.quote();
    let texts: Vec<&str> = std::iter::once(quote.as_str()).chain(t.texts()).collect();
    let all = texts.join("\n");
    let n = name_by_structure(t, ctx, &kinds, &texts, &all)?;
    // The error itself, quoted, unless the summary says it already; a
    // Java root cause with the exception it surfaced as.
    let quote = match (t.runtime, t.chain.last().and_then(|r| r.kind.as_deref())) {
        (Runtime::Java, Some(outer)) if Some(outer) != t.error.kind.as_deref() => {
            let said = t.chain.last().map_or("", |r| r.message.as_str());
            if said.is_empty() {
                format!("{outer}, caused by {quote}")
            } else {
                format!("{outer}: {said}, caused by {quote}")
            }
        }
        _ => quote,
    };
    let short_quote: String = quote.chars().take(200).collect();
    // A configuration error's list (`/provider must have required property
    // 'apiKey'`) says what is wrong: its first lines go with it.
    let listed: Vec<&str> = t
        .detail
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("code:") && !l.starts_with("at ") && l.len() > 3)
        .filter(|l| !n.summary.contains(l))
        .take(3)
        .collect();
    let n = if n.id == "missing-config" && !listed.is_empty() {
        Named {
            summary: format!("{} ({})", n.summary, listed.join("; ")),
            ..n
        }
    } else {
        n
    };
    if n.summary.contains(short_quote.as_str()) || quote.is_empty() {
        return Some(n);
    }
    Some(Named {
        summary: format!("{} ({short_quote})", n.summary),
        ..n
    })
}

fn name_by_structure(
    t: &TerminalError,
    ctx: &Context,
    kinds: &[&str],
    texts: &[&str],
    all: &str,
) -> Option<Named> {
    let is = |set: &[&str]| kinds.first().is_some_and(|k| set.contains(k));
    let any = |set: &[&str]| kinds.iter().any(|k| set.contains(k));
    let message = t.error.message.as_str();
    let all = all.to_string();
    if let Some(file) = unfound_env_file(message) {
        return strongly_named(
            "env-file-missing",
            format!("the env file {} is missing", ctx.absolute(&file)),
        );
    }
    let before_first = t.before.first().map_or("", String::as_str);
    if texts.iter().any(|x| errno::find(x) == Some(Errno::NoEntry))
        && (CHDIR.is_match(message) || CHDIR.is_match(before_first))
        && let Some(dir) = data_path_in(message).or_else(|| data_path_in(before_first))
    {
        return strongly_named(
            "workdir-missing",
            format!("the working directory {dir} does not exist"),
        );
    }
    // A library's own "no such program" (`sh.CommandNotFound: wkhtmltopdf`,
    // `ExecutableNotFoundError`): a program it runs is not installed.
    if kinds.iter().any(|k| {
        has_word(k, &["Command", "Executable", "Program", "Binary"])
            && (has_word(k, &["Missing"]) || has_word(k, &["Not"]) && has_word(k, &["Found"]))
    }) {
        let program = LAST_QUOTED_NAME
            .captures(message)
            .map(|c| c["name"].to_string())
            .or_else(|| {
                message
                    .split_whitespace()
                    .last()
                    .map(|w| w.trim_matches(['\'', '"', '`', '.', ':']).to_string())
            })
            .unwrap_or_default();
        return program_not_installed(&program, t);
    }
    if let Some(c) = NO_SCRIPT.captures(&all) {
        return named(
            "command-not-found",
            format!("the program `{}` does not exist", &c["program"]),
        );
    }
    if let Some(c) = GUNICORN_APP.captures(&all) {
        return named(
            "missing-module",
            format!(
                "the runtime cannot import `{}:{}`: module `{}` has no `{}`",
                &c["module"], &c["name"], &c["module"], &c["name"]
            ),
        );
    }
    // A configuration file that does not parse, named from the lines
    // before when the error does not: a parser library's syntax error
    // (Psych, PyYAML, json), or "while parsing config".
    // The runtime's verdict on source code is un-namespaced (`SyntaxError`,
    // PHP's `ParseError`); `Oj::ParseError`, `JSON::ParserError` are a
    // library's verdict on data.
    let runtime_syntax = is(SYNTAX_TYPES)
        && !t
            .error
            .kind
            .as_deref()
            .is_some_and(|k| k.contains("::") || k.contains('\\') || k.contains('.'));
    let parse_error = is(SYNTAX_TYPES) || kinds.first().is_some_and(|k| parse_type(k));
    // `@iarna/toml`, `@std/yaml`: the package's own name.
    let parser_library = t
        .library
        .as_deref()
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .is_some_and(|l| {
            [
                "psych",
                "yaml",
                "ruamel",
                "json",
                "toml",
                "tomllib",
                "tomli",
                "configparser",
            ]
            .contains(&l.to_ascii_lowercase().as_str())
        });
    let configish = CONFIG_WORD.is_match(&all) || t.before.iter().any(|l| CONFIG_WORD.is_match(l));
    if parse_error && parser_library && configish && !CONFIG_FILE.is_match(&all)
        || PARSE_SAID.is_match(message) && CONFIG_WORD.is_match(message)
    {
        let file = CONFIG_FILE
            .find(&all)
            .map(|m| m.as_str().to_string())
            .or_else(|| loaded_config(t))
            .or_else(|| {
                t.before
                    .iter()
                    .filter(|l| CONFIG_WORD.is_match(l) || l.contains("load"))
                    .find_map(|l| data_path_in(l))
            })
            .map_or_else(String::new, |f| format!(" {f}"));
        // The parser's excerpt marks the line it stopped at (`15> key = 1`).
        let marked = t
            .detail
            .iter()
            .find(|d| MARKED_LINE.is_match(d))
            .map_or_else(String::new, |d| format!(" (at `{d}`)"));
        return named(
            "missing-config",
            format!(
                "the configuration{file} does not parse: {}{marked}",
                t.quote()
            ),
        );
    }
    // `Syntax Error: line:8` of a parser, just after `loading configuration
    // from /etc/agent.toml`: the file does not parse (not the code: a
    // program's own syntax error says where in its source).
    if (PARSE_FAILED_SAID.is_match(message) || parse_error)
        && !t
            .place
            .as_deref()
            .is_some_and(|p| source_place(p) && !DEPENDENCIES_DIR.is_match(p))
        && let Some(file) = loaded_config(t)
    {
        return named(
            "missing-config",
            format!("the configuration file {file} is not valid: {}", t.quote()),
        );
    }
    if (is(SYNTAX_TYPES) || kinds.first().is_some_and(|k| parse_type(k)))
        && CONFIG_FILE.is_match(&all)
    {
        let file = CONFIG_FILE
            .captures(&all)
            .map_or("", |c| c.get(0).map_or("", |m| m.as_str()));
        return named(
            "missing-config",
            format!("the configuration file {file} is not valid: {message}"),
        );
    }

    // A parser library's error (`JsonException`, pyparsing's
    // `ParseSyntaxException`, toml-rb's `ParseError`, a PEG parser's
    // `SyntaxError` thrown from node_modules), not the runtime's verdict on
    // the program's own code: the file it was reading does not parse,
    // named by the lines before, or by the variable that points at it.
    let own_code = runtime_syntax && !raised_in_dependency(t);
    // Not an I/O failure: one with an errno (a full disk, a denied open,
    // a name that does not resolve) is named by it further down.
    // A schema's verdict (`StructError: At path: campaigns.1.startsAt`,
    // voluptuous' `MultipleInvalid: required key not provided`) or a
    // parser's position (`(8, 1): missing comma`, `at line 6 col 30`) is
    // about data too: the file the program just loaded.
    let data_verdict = kinds
        .iter()
        .any(|k| has_word(k, &["Struct", "Schema", "Invalid", "Deserialize"]))
        || DATA_VERDICT.is_match(message);
    let parsed_badly = parse_error
        || kinds.iter().any(|k| parse_type(k))
        || PARSE_SAID.is_match(message)
        || FORMAT_FAILURE.is_match(message);
    let format_failure =
        (parsed_badly || data_verdict) && !texts.iter().any(|x| errno::find(x).is_some());
    // A Go panic is the program's own (`uuid.MustParse` on a value), not
    // a file that does not parse.
    let panicked = message.starts_with("panic:") || t.error.kind.as_deref() == Some("panic");
    if format_failure
        && !own_code
        && !panicked
        && let Some(file) = loaded_config(t).or_else(|| {
            let code = format!("{}\n{all}", t.stack.join("\n"));
            crate::env_hints::data_file(ctx, &code)
                .or_else(|| {
                    crate::env_hints::file_meant(ctx, &code)
                        .filter(|(_, path)| crate::env_hints::data_or_key(path))
                })
                .filter(|(_, path)| !crate::env_hints::dated(path))
                .map(|(name, path)| format!("{path} ({name})"))
        })
    {
        let what = if crate::env_hints::key_material(&file) {
            "the key or certificate"
        } else {
            "the configuration file"
        };
        // A schema's verdict on data that parsed: not valid, rather than
        // does not parse.
        let verdict = if data_verdict && !parsed_badly {
            "is not valid"
        } else {
            "does not parse"
        };
        return named(
            "missing-config",
            format!("{what} {file} {verdict}: {}", t.quote()),
        );
    }
    if let Some(c) = CYCLE.captures(&all) {
        let at = t
            .place
            .as_ref()
            .map_or_else(String::new, |p| format!(", from {p}"));
        // The module that imports it back, by its dotted name.
        let importer = t
            .place
            .as_deref()
            .and_then(|p| dotted_module(p, &c["module"]))
            .map_or_else(String::new, |m| format!("`{m}` imports "));
        return named(
            "import-cycle",
            format!(
                "a circular import: {importer}`{}` from `{}` while `{}` is still initialising{at}",
                &c["name"], &c["module"], &c["module"]
            ),
        );
    }
    // Go's toolchain (`go run` on a host without the module cache): the
    // module it was downloading, or the package it names.
    // `sql: unknown driver "postgres" (forgotten import?)`, JDBC's `No
    // suitable driver found for jdbc:…`: the driver was not imported or installed.
    if let Some(c) = UNKNOWN_DRIVER.captures(&all) {
        let driver = c
            .name("driver")
            .or_else(|| c.name("url"))
            .map_or("", |m| m.as_str());
        return named(
            "missing-module",
            format!("the database driver `{driver}` is not imported or installed"),
        );
    }
    if GO_MODULE_LOOKUP.is_match(&all) {
        let module = t
            .before
            .iter()
            .find_map(|l| GO_DOWNLOADING.captures(l))
            .or_else(|| GO_PACKAGE.captures(&all))
            .map_or_else(|| t.quote(), |c| c["module"].to_string());
        return named(
            "missing-module",
            format!(
                "the runtime cannot import `{module}`: the module is not downloaded or vendored"
            ),
        );
    }
    if is(MODULE_TYPES)
        || kinds.first() == Some(&"ImportError") && message.contains("No module named")
        || node_code(t).is_some_and(|c| c == "MODULE_NOT_FOUND" || c == "ERR_MODULE_NOT_FOUND")
        || message.contains("Can't locate ")
        || message.contains("cannot load such file")
        || PHP_MISSING.is_match(message)
        || OPTIONAL_PACKAGE.is_match(message)
    {
        let module = PERL_INSTALL
            .captures(&all)
            .or_else(|| OPTIONAL_PACKAGE.captures(message))
            .or_else(|| MODULE.captures(&all))
            .or_else(|| PHP_MISSING.captures(message))
            .and_then(|c| {
                c.name("module")
                    .or_else(|| c.name("named"))
                    .or_else(|| c.name("function"))
            })
            .map_or_else(
                || message.to_string(),
                |m| m.as_str().trim_end_matches('.').to_string(),
            );
        return named(
            "missing-module",
            format!("the runtime cannot import `{module}`"),
        );
    }
    if runtime_syntax || t.runtime == Runtime::Perl && message.starts_with("syntax error") {
        let at = t
            .place
            .as_ref()
            .or(t.detail.first().filter(|_| t.runtime != Runtime::Python))
            .map_or_else(String::new, |p| format!(" ({p})"));
        return named(
            "syntax-error",
            format!("the code does not parse: {}{at}", t.quote()),
        );
    }
    if AUTH.is_match(&all) {
        let who = dependency_of(t, &all, ctx)
            .map_or_else(|| "a dependency".to_string(), |(a, k)| describe(&a, k));
        return named(
            "dependency-auth-failed",
            format!("{who} rejects the credentials: {}", t.quote()),
        );
    }
    // SQLite's SQLITE_READONLY: the file (or its directory, for the
    // journal) is not writable by the service's user.
    if SQLITE_READONLY.is_match(&all) {
        let path = SQLITE_PATH
            .captures(&all)
            .map(|c| c["path"].to_string())
            .or_else(|| t.before.iter().find_map(|l| data_path_in(l)))
            .or_else(|| sqlite_file(ctx));
        let what = path.map_or_else(String::new, |p| format!(" {p}"));
        return named(
            "permission-denied",
            format!(
                "the SQLite database{what} is read-only to the service: its user may not write the file, or the directory beside it ({})",
                t.quote()
            ),
        );
    }
    // SQLite's SQLITE_CANTOPEN: it could not create or open the file, in a
    // directory the service cannot write (or that is gone).
    if all.contains("unable to open database file") {
        let path = SQLITE_PATH
            .captures(&all)
            .map(|c| c["path"].to_string())
            .or_else(|| data_path_in(&all))
            .or_else(|| sqlite_file(ctx));
        let what = path.map_or_else(String::new, |p| format!(" {p}"));
        return named(
            "permission-denied",
            format!(
                "the SQLite database{what} cannot be opened: its directory is not writable by the service, or does not exist ({})",
                t.quote()
            ),
        );
    }
    // Redis at `maxmemory` with `noeviction`: the cache refuses writes.
    if all.contains("OOM command not allowed") {
        let who = dependency_of(t, &format!("{all}\nredis"), ctx)
            .map_or_else(|| "the Redis server".to_string(), |(a, k)| describe(&a, k));
        return named(
            "dependency-unavailable",
            format!(
                "{who} is full: it refuses writes at its maxmemory ({})",
                t.quote()
            ),
        );
    }
    let found_errno = texts
        .iter()
        .find_map(|s| errno::find(s))
        .or_else(|| perl_errno(t, ctx))
        // Node's `spawn gzip EAGAIN`: the fork was refused (EAGAIN alone,
        // a non-blocking read's, is no process limit).
        .or_else(|| SPAWN_EAGAIN.is_match(&all).then_some(Errno::NoProcesses));
    if found_errno == Some(Errno::NoProcesses) {
        return by_errno(Errno::NoProcesses, t, &all, ctx);
    }
    if is(MEMORY_TYPES)
        || MEMORY_EXHAUSTED.is_match(&all)
        || all.contains("heap out of memory")
        || all.to_ascii_lowercase().contains("out of memory")
        || all.contains("memory allocation of")
        || found_errno == Some(Errno::NoMemory)
    {
        let program = t
            .place
            .clone()
            .or_else(|| launched_script(&t.before))
            .map_or_else(String::new, |p| format!(" in {p}"));
        return named(
            "out-of-memory",
            format!("it ran out of memory{program}: {}", t.quote()),
        );
    }
    if let Some(n) = sourced_file_missing(t, ctx.exit.as_deref().unwrap_or("")) {
        return Some(n);
    }
    if t.runtime == Runtime::Shell {
        if let Some(n) = shell(t, ctx) {
            return Some(n);
        }
    }
    if let Some(e) = found_errno
        && let Some(n) = by_errno(e, t, &all, ctx)
    {
        return Some(n);
    }
    // A schema's verdict on a configuration file just loaded.
    if kinds.iter().any(|k| has_word(k, &["Validation", "Schema"]))
        && let Some(file) = loaded_config(t)
    {
        let field = t
            .detail
            .iter()
            .rev()
            .find_map(|l| SUBSCRIPT.captures_iter(l).last())
            .map_or_else(String::new, |c| format!(" (field `{}`)", &c["field"]));
        return named(
            "missing-config",
            format!(
                "the configuration file {file} is not valid{field}: {}",
                t.quote()
            ),
        );
    }
    // `BadDsn`, `InvalidUrl`: a value is wrong, and the type's word is the
    // name of one of its variables (`SENTRY_DSN`).
    if let Some(var) = kinds.iter().find_map(|k| {
        let words = type_words(k);
        words
            .iter()
            .any(|w| ["Bad", "Invalid", "Malformed"].contains(w))
            .then(|| crate::env_hints::variable_called(ctx, &words))
            .flatten()
    }) {
        return named(
            "missing-config",
            format!("the setting {var} is invalid: {}", t.quote()),
        );
    }
    // A value of its environment the program rejects (`invalid
    // QUOTA_LIMIT: strconv.Atoi: parsing "1k": invalid syntax`): that
    // setting is wrong, not the program.
    if (VALUE_REJECTED.is_match(message) || INVALID_SAID.is_match(message))
        && !texts.iter().any(|x| errno::find(x).is_some())
        && let Some(var) = crate::env_hints::variable_rejected(ctx, message)
    {
        return named(
            "missing-config",
            format!("the setting {var} is invalid: {}", t.quote()),
        );
    }
    let unreachable_code = node_code(t).is_some_and(|c| {
        ["TIMEOUT", "TIMEDOUT", "REFUSED", "UNREACH", "RESET"]
            .iter()
            .any(|w| c.contains(w))
    });
    if kinds.iter().any(|k| unreachable_type(k)) || unreachable_code {
        if let Some(n) = auth_said_before(t, &all, ctx) {
            return Some(n);
        }
        if address::find(&all).is_some_and(|a| own(&a, ctx)) {
            return None;
        }
        if let Some((a, k)) = dependency_of(t, &all, ctx) {
            return named(
                "dependency-unavailable",
                format!("{} cannot be reached: {}", describe(&a, k), t.quote()),
            );
        }
        if !ctx.own_ports.is_empty() || !all.contains("localhost") {
            return named(
                "dependency-unavailable",
                format!("a dependency cannot be reached: {}", t.quote()),
            );
        }
    }
    if CONNECT_FAILED.is_match(&all) || DOWN.is_match(message) {
        if let Some((a, k)) = dependency_of(t, &all, ctx) {
            return named(
                "dependency-unavailable",
                format!("{} cannot be reached", describe(&a, k)),
            );
        }
    }
    // The program's own words about an address it was given (`ticket
    // stream at 127.0.0.1:56900 did not send a greeting within 3s`).
    if FAILURE_SAID.is_match(message)
        && let Some((a, Some(k))) = dependency(message, ctx)
    {
        return named(
            "dependency-unavailable",
            format!("{} fails: {}", describe(&a, Some(k)), t.quote()),
        );
    }
    // A schema over the environment (envalid, znv, envsafe, t3's
    // env-core): the variables it lists are missing or invalid.
    if ENV_SCHEMA_FAILED.is_match(message) {
        return named(
            "missing-config",
            format!(
                "required settings of the environment are missing or invalid{}",
                env_schema_listed(t)
            ),
        );
    }
    // An error raised inside a configuration library (node's `config`,
    // nconf, convict, envalid, OmegaConf, Hydra, dynaconf, decouple): the
    // configuration is wrong, whatever its words.
    // A setting a configuration library cannot find, after it said it
    // could not find the env file it was to read it from: the env file.
    if let Some(lib) = t.library.as_deref()
        && config_library(lib)
        // The first it reports is the one it was given; later ones are its
        // search of the parent directories.
        && let Some(file) = t.before.iter().rev().find_map(|l| unfound_env_file(l))
    {
        return named(
            "env-file-missing",
            format!(
                "the env file {} is missing, so {lib} finds no settings: {}",
                ctx.absolute(&file),
                t.quote()
            ),
        );
    }
    if let Some(lib) = t.library.as_deref()
        && config_library(lib)
        && !kinds
            .first()
            .is_some_and(|k| programming_type(k) && *k != "KeyError" && *k != "ValueError")
        && !any(MODULE_TYPES)
    {
        // The file it was read from, when the command line or the
        // environment passes one (`-Dconfig.file=…`, `APP_CONFIG=…`).
        let code = format!("{}\n{all}", t.stack.join("\n"));
        let from = crate::env_hints::data_file(ctx, &code)
            .map_or_else(String::new, |(name, path)| format!(" in {path} ({name})"));
        let what = CONFIG_FILE
            .find(&all)
            .map(|m| m.as_str().to_string())
            .or_else(|| loaded_config(t))
            .map(|f| format!("the configuration file {f} is not valid"))
            .or_else(|| {
                QUOTED_SETTING.captures(&all).map(|c| {
                    format!(
                        "a required setting is missing or invalid{from}: {}",
                        &c["name"]
                    )
                })
            })
            .or_else(|| {
                setting_name(&all)
                    .map(|n| format!("a required setting is missing or invalid{from}: {n}"))
            })
            .or_else(|| {
                let code = format!("{}\n{all}", t.stack.join("\n"));
                crate::env_hints::file_meant(ctx, &code).map(|(name, path)| {
                    format!("the configuration file {path} ({name}) is missing or not valid")
                })
            })
            .unwrap_or_else(|| "the configuration is invalid".to_string());
        return named("missing-config", format!("{what} ({lib})"));
    }
    // An error raised inside the client library of a kind of server (an
    // `ioredis` cluster error, a `pika` workflow failure), not a bug's type.
    if let Some(lib) = t.library.as_deref()
        && let Some(server) = server_kind(lib)
        && !kinds.first().is_some_and(|k| programming_type(k))
        && !any(MODULE_TYPES)
    {
        if let Some(n) = auth_said_before(t, &all, ctx) {
            return Some(n);
        }
        let hinted = format!("{all}\n{lib}");
        return match dependency_of(t, &hinted, ctx) {
            Some((a, k)) => named(
                "dependency-unavailable",
                format!("{} cannot be used: its client {lib} fails", describe(&a, k)),
            ),
            None => named(
                "dependency-unavailable",
                format!("the {server} server cannot be used: its client {lib} fails"),
            ),
        };
    }
    if TLS_MATERIAL.is_match(message) {
        let wants_key = message.to_ascii_lowercase().contains("key");
        let paths: Vec<String> = std::iter::once(message.to_string())
            .chain(t.before.iter().cloned())
            .flat_map(|l| {
                BARE_PATH
                    .captures_iter(&l)
                    .map(|c| c["path"].trim_end_matches([':', ',', '.', ')']).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let path = paths
            .iter()
            .find(|p| p.to_ascii_lowercase().contains("key") == wants_key)
            .or(paths.first())
            .map_or_else(String::new, |p| format!(" {p}"));
        let what = if wants_key { "key" } else { "certificate" };
        return named(
            "missing-config",
            format!("the TLS {what}{path} is not valid or not readable"),
        );
    }
    // A command line without a required argument (argparse, click,
    // commander, yargs): its usage was printed, or it exits 2.
    let usage = t
        .before
        .iter()
        .chain(t.stack.iter())
        .chain(t.detail.iter())
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("usage:"))
        || !t.usage.is_empty();
    // A command-line parser's own exception (commons-cli's
    // `MissingOptionException`, picocli's `MissingParameterException`).
    let parser_refused = kinds.iter().any(|k| {
        has_word(k, &["Missing", "Required"])
            && has_word(
                k,
                &[
                    "Option",
                    "Options",
                    "Argument",
                    "Arguments",
                    "Flag",
                    "Parameter",
                ],
            )
    });
    // The parsers' own sentences say it with no usage text needed.
    let lower = message.to_ascii_lowercase();
    let parser_said = [
        "the following arguments are required",
        "required flag",
        "option requires",
        "following option",
        "for required option",
        "must be specified",
        "missing required",
        "not enough arguments",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || CLI_OPTION_REQUIRED.is_match(message);
    if (usage || parser_refused || parser_said || ctx.exit.as_deref() == Some("code 2"))
        && let Some(c) = CLI_REQUIRED.captures(message)
    {
        let arg = [
            "args", "arg", "opt", "req", "flag", "listed", "oreq", "quoted", "rflag", "must",
            "was", "isreq", "cmd", "cleo",
        ]
        .iter()
        .find_map(|g| c.name(g))
        .map(|m| m.as_str().trim().to_string())
        // `Missing required flag`, the flag on the line below (meow).
        .or_else(|| {
            t.usage
                .iter()
                .find_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
                .map(|w| w.trim_end_matches([',', '=']).to_string())
        })
        .unwrap_or_default();
        return named(
            "missing-config",
            format!(
                "a required command-line argument is missing: {arg} (check `command`, or the variable it falls back to)"
            ),
        );
    }
    // A parameter said missing that its usage lists as an option
    // (`Mandatory parameter 'to' missing`, then `--to STR  target …`).
    if let Some(c) = QUOTED_NAME.captures(message)
        && SETTING_SAID.is_match(message)
        && let Some(option) = t.usage.iter().find_map(|l| {
            let flag = format!("--{}", &c["name"]);
            l.split_whitespace()
                .any(|w| w.trim_end_matches([',', '=']) == flag)
                .then_some(flag)
        })
    {
        return named(
            "missing-config",
            format!(
                "a required command-line option is missing: {option} (check `command`): {}",
                t.quote()
            ),
        );
    }
    // It printed its usage and failed (docopt, Go's `flag`, getopt): the
    // command line does not match it. The options the usage requires
    // (outside `[…]`), less those the command line has when it is known.
    if !t.usage.is_empty() && ctx.exit.as_deref().is_some_and(|e| e != "code 0") {
        let synopsis = t
            .usage
            .iter()
            .map(|l| USAGE_HEAD.replace(l, "").trim().to_string())
            .find(|l| !l.is_empty())
            .unwrap_or_default();
        let mut required: Vec<String> = USAGE_REQUIRED
            .captures_iter(&USAGE_OPTIONAL.replace_all(&synopsis, ""))
            .map(|c| c["opt"].to_string())
            .collect();
        if !ctx.command.is_empty() {
            required.retain(|o| {
                !ctx.command
                    .iter()
                    .any(|a| a == o || a.starts_with(&format!("{o}=")))
            });
        }
        let needs = if required.is_empty() {
            String::new()
        } else {
            format!("; it requires {}", required.join(", "))
        };
        return named(
            "missing-config",
            format!(
                "the command line does not match its usage `{synopsis}`{needs} ({})",
                t.quote()
            ),
        );
    }
    // A library's own `…KeyError` (python-box's `BoxKeyError`): a key of a
    // configuration object is absent.
    if kinds
        .iter()
        .any(|k| k.len() > "KeyError".len() && k.ends_with("KeyError"))
    {
        let key = LAST_QUOTED_NAME
            .captures(message)
            .map_or_else(|| t.quote(), |c| c["name"].to_string());
        return named(
            "missing-config",
            format!("a required setting is missing: {key} ({})", t.quote()),
        );
    }
    // A schema over the environment (envalid, znv, envsafe): the
    // variables it lists are missing or invalid.
    if let Some(n) = absent_variable(t, kinds, ctx) {
        return Some(n);
    }
    // A library refuses an empty value the program passed it
    // (`secretOrPrivateKey must have a value`): a setting it reads is unset.
    if raised_in_dependency(t)
        && t.error
            .kind
            .as_deref()
            .is_none_or(|k| k == "Error" || k == "TypeError")
        && let Some(c) = VALUE_EMPTY.captures(message)
    {
        return named(
            "missing-config",
            format!(
                "a value it needs is empty: `{}` (a setting it reads is unset?): {}",
                &c["name"],
                t.quote()
            ),
        );
    }
    if let Some(n) = missing_setting(t, kinds, ctx) {
        return Some(n);
    }
    // sysexits' EX_CONFIG: the program says its configuration is wrong,
    // and what it listed just before says where.
    if ctx.exit.as_deref() == Some("code 78") {
        let what = CONFIG_FILE
            .find(&all)
            .map(|m| m.as_str().to_string())
            .or_else(|| loaded_config(t))
            .or_else(|| {
                crate::env_hints::data_file(ctx, &all).map(|(name, path)| format!("{path}, {name}"))
            })
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        let listed = listed_config_errors(t);
        return named(
            "missing-config",
            format!(
                "the configuration is invalid{what} (exit 78, EX_CONFIG): {}{listed}",
                t.quote()
            ),
        );
    }
    // The program's own words: a data file it names is wrong (`invalid
    // partner config /etc/edi/partners.xml: InvalidTag …`, `config
    // /etc/proxy.hcl: At 11:1: object expected …`).
    if !own_code
        && !texts.iter().any(|x| errno::find(x).is_some())
        && (DATA_VERDICT.is_match(message)
            || FORMAT_FAILURE.is_match(message)
            || PARSE_SAID.is_match(message)
            || INVALID_SAID.is_match(message))
        && let Some(file) = CONFIG_FILE
            .find_iter(message)
            .map(|m| m.as_str())
            // A dated file (`orders-2026-12-02.json`) is a batch of input,
            // not the configuration.
            .find(|f| f.contains('/') && !env_file_name(f) && !crate::env_hints::dated(f))
    {
        return named(
            "missing-config",
            format!(
                "the configuration file {file} is not valid: {}{}",
                t.quote(),
                listed_config_errors(t)
            ),
        );
    }
    if any(FILE_TYPES) {
        // The error may not say which file; the line before often does.
        let path = path_in(&all).or_else(|| data_path_in(&t.before.join("\n")));
        return match path {
            Some(path) => missing_file(&path, ctx),
            None => named(
                "missing-config",
                "a file it needs is missing (the error does not say which)".to_string(),
            ),
        };
    }
    // Last words naming an address the service was given for a dependency
    // (`mongo dial mongodb://10.0.0.5:27017/catalog: <anything>`), with
    // no type of a bug: that dependency is what failed.
    // A death by signal is not a dependency's doing, and a line that says
    // nothing failed is only the last thing logged.
    let signalled = ctx.exit.as_deref().is_some_and(|e| e.starts_with("signal"));
    if !signalled
        && (t.error.kind.is_some() || SOMETHING_FAILED.is_match(message))
        && !kinds.first().is_some_and(|k| programming_type(k))
        && let Some((a, Some(k))) = dependency(message, ctx)
        && !own(&a, ctx)
    {
        return named(
            "dependency-unavailable",
            format!("{} fails: {}", describe(&a, Some(k)), t.quote()),
        );
    }
    None
}

/// The variables an environment schema's failure lists, as `: A, B`: in
/// its detail and stack (`STRIPE_KEY: required`), or in the issues it
/// printed just before (zod's `path: [ 'STRIPE_KEY' ]`, nearest block).
fn env_schema_listed(t: &TerminalError) -> String {
    let mut vars: Vec<String> = t
        .detail
        .iter()
        .chain(t.stack.iter())
        .filter_map(|l| ENV_LISTED.captures(l).map(|c| c["var"].to_string()))
        .collect();
    if vars.is_empty() {
        // `before` is nearest first: the printed issues, up to the line
        // that opened them.
        let mut listed: Vec<String> = Vec::new();
        for l in t
            .before
            .iter()
            .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l))
        {
            listed.extend(
                QUOTED_VARIABLE
                    .captures_iter(l)
                    .chain(CODEC_PATH_VARIABLE.captures_iter(l))
                    .map(|c| c["var"].to_string()),
            );
            if ENV_SCHEMA_FAILED.is_match(l) {
                break;
            }
        }
        listed.reverse();
        vars = listed;
    }
    let mut seen = std::collections::HashSet::new();
    vars.retain(|v| seen.insert(v.clone()));
    if vars.is_empty() {
        String::new()
    } else {
        format!(": {}", vars.join(", "))
    }
}

/// `command-not-found` for a program the service runs (`ffmpeg`, not its
/// own command) that is not installed.
fn program_not_installed(program: &str, t: &TerminalError) -> Option<Named> {
    named(
        "command-not-found",
        format!(
            "the program `{program}` it runs is not installed (not found in PATH): {}",
            t.quote()
        ),
    )
}

/// Whether `path` names an env file (`.env`, `.env.production`,
/// `app.env`): its faults are the env file's, not a configuration file's.
fn env_file_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env"
        || name.starts_with(".env.")
        || std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("env"))
}

/// What the program listed just before refusing its configuration
/// (`config error: [tiers[3].points_multiplier] The property … is
/// required`), oldest first, as ` (a; b)`: where the file is wrong.
fn listed_config_errors(t: &TerminalError) -> String {
    let mut listed: Vec<&str> = t
        .before
        .iter()
        .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l) && !l.starts_with("throw "))
        .skip_while(|l| !(CONFIG_SAID.is_match(l) || SETTING_SAID.is_match(l)))
        .take_while(|l| CONFIG_SAID.is_match(l) || SETTING_SAID.is_match(l))
        .take(3)
        .map(String::as_str)
        .collect();
    listed.reverse();
    if listed.is_empty() {
        String::new()
    } else {
        format!(" ({})", listed.join("; "))
    }
}

/// `code: ERR_…` that the Node extractor put first in the detail.
fn node_code(t: &TerminalError) -> Option<&str> {
    t.detail.first()?.strip_prefix("code: ")
}

/// The dependency a text names: the address and, when the service
/// declares it, its name. An address on the service's own port is not a
/// dependency.
fn dependency<'k>(text: &str, ctx: &'k Context) -> Option<(Address, Option<&'k Known>)> {
    let a = address::find(text)?;
    if own(&a, ctx) {
        return None;
    }
    let k = address::name(&a, &ctx.known);
    Some((a, k))
}

/// Words that name a kind of server, to tell which declared address an
/// error without one is about.
const KINDS: &[&[&str]] = &[
    &["postgres", "psql", "pg", "psycopg", "libpq", "pq", "npgsql"],
    &["mysql", "maria"],
    &["redis", "valkey"],
    &["mongo"],
    &["amqp", "rabbit", "pika", "kombu"],
    &["kafka"],
    &["elastic", "opensearch"],
    &["nats"],
    &["mqtt"],
    &["memcache"],
    &["ssh", "paramiko", "sftp"],
];

/// A connection closed right after the server refused the credentials
/// (`WRONGPASS` logged, then "Connection is closed"): the credentials are
/// the cause.
fn auth_said_before(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    let said = t.before.iter().take(3).find(|l| AUTH.is_match(l))?;
    let who = dependency_of(t, all, ctx)
        .map_or_else(|| "a dependency".to_string(), |(a, k)| describe(&a, k));
    named(
        "dependency-auth-failed",
        format!("{who} rejects the credentials: {said}"),
    )
}

/// A library that reads configuration: its name says so (`config`,
/// `nconf`, `omegaconf`, `pydantic_settings`, `envalid`, `dotenv`) or it is
/// one of the common ones whose name does not.
fn config_library(library: &str) -> bool {
    let lower = library.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    // By its words: `omegaconf`, `config-rs`, `pydantic_settings`, not
    // `confluent_kafka`.
    name.split(['-', '_', '.'])
        .any(|w| w.starts_with("config") || w.ends_with("conf") || w.contains("settings"))
        || name.starts_with("env")
        || name.ends_with("env")
        || ["decouple", "hydra", "everett", "convict", "confuse"].contains(&name)
}

/// The kind of server a client library is for (`ioredis` → `redis`), by
/// the words of [`KINDS`] (a short word must be the whole name: `pg`).
fn server_kind(library: &str) -> Option<&'static str> {
    let lower = library.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    KINDS
        .iter()
        .find(|words| {
            words.iter().any(|w| {
                if w.len() <= 3 {
                    name == *w
                } else {
                    name.contains(w)
                }
            })
        })
        .map(|words| words[0])
}

/// [`dependency`] of the error, else of the lines printed before it, else
/// the one declared address it can be (by the kind of server the error
/// names, or the only one there is).
fn dependency_of<'k>(
    t: &TerminalError,
    all: &str,
    ctx: &'k Context,
) -> Option<(Address, Option<&'k Known>)> {
    if let Some(found) = dependency(all, ctx) {
        return Some(found);
    }
    if address::find(all).is_some_and(|a| own(&a, ctx)) {
        return None;
    }
    if let Some(found) = dependency(&t.before.join("\n"), ctx) {
        return Some(found);
    }
    declared_for(all, ctx)
}

/// What a phrase rule's `{target}` names when its line has no address:
/// the address the line names, else the one declared dependency the line
/// can be about.
pub fn target_of(text: &str, ctx: &Context) -> Option<String> {
    if let Some((a, k)) = dependency(text, ctx) {
        return Some(describe(&a, k));
    }
    if address::find(text).is_some_and(|a| own(&a, ctx)) {
        return None;
    }
    declared_for(text, ctx).map(|(a, k)| describe(&a, k))
}

/// The one declared address an error without one can be about: by the
/// kind of server `all` names, or the only one there is.
fn declared_for<'k>(all: &str, ctx: &'k Context) -> Option<(Address, Option<&'k Known>)> {
    let lower = all.to_ascii_lowercase();
    let candidates: Vec<&Known> = ctx
        .known
        .iter()
        .filter(|k| k.host.is_some())
        .filter(|k| k.port.is_none_or(|p| !ctx.own_ports.contains(&p)))
        .collect();
    let by_kind = KINDS.iter().find_map(|words| {
        if !words.iter().any(|w| lower.contains(w)) {
            return None;
        }
        let hits: Vec<&Known> = candidates
            .iter()
            .copied()
            .filter(|k| {
                words
                    .iter()
                    .any(|w| k.name.to_ascii_lowercase().contains(w))
            })
            .collect();
        one_name(&hits)
    });
    let k = by_kind.or_else(|| one_name(&candidates))?;
    Some((
        Address {
            host: k.host.clone(),
            port: k.port,
        },
        Some(k),
    ))
}

/// The first of `known` when they are all one declaration (a list of
/// cluster nodes is one dependency), else none.
fn one_name<'k>(known: &[&'k Known]) -> Option<&'k Known> {
    let first = *known.first()?;
    known.iter().all(|k| k.name == first.name).then_some(first)
}

/// Whether `text` names an address of the service itself.
pub fn names_own_address(text: &str, ctx: &Context) -> bool {
    address::find(text).is_some_and(|a| own(&a, ctx))
}

/// An address of the service itself: one of its ports, on this host.
fn own(a: &Address, ctx: &Context) -> bool {
    a.port.is_some_and(|p| ctx.own_ports.contains(&p))
        && a.host.as_deref().is_none_or(|h| {
            h.starts_with("127.") || h == "localhost" || h == "0.0.0.0" || h == "::1"
        })
}

/// "`AMQP_URL` at amqp://localhost:5672", the address as the service
/// declares it (and as the error wrote it, when that differs:
/// `localhost` resolved to `127.0.0.1`), or the address alone.
fn describe(a: &Address, k: Option<&Known>) -> String {
    let Some(k) = k else {
        return a.to_string();
    };
    let declared = Address {
        host: k.host.clone().or_else(|| a.host.clone()),
        port: k.port.or(a.port),
    };
    let written = if declared.to_string() == a.to_string() {
        String::new()
    } else {
        format!(" ({a})")
    };
    match &k.scheme {
        Some(scheme) => format!("{} at {scheme}://{declared}{written}", k.name),
        None => format!("{} at {declared}{written}", k.name),
    }
}

/// The port a service binds, when the message does not say: its declared
/// port, else a `PORT` variable of its environment.
fn service_port(all: &str, ctx: &Context) -> Option<u16> {
    address::find(all)
        .and_then(|a| a.port)
        .or_else(|| ctx.own_ports.first().copied())
        .or_else(|| {
            ctx.known
                .iter()
                .find(|k| {
                    let n = k.name.to_ascii_uppercase();
                    ["BIND", "LISTEN", "ADDR"].iter().any(|w| n.contains(w))
                })
                .and_then(|k| k.port)
        })
        .or_else(|| {
            ctx.known
                .iter()
                .find(|k| k.name.to_ascii_uppercase().contains("PORT"))
                .and_then(|k| k.port)
        })
}

fn by_errno(e: Errno, t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    match e {
        Errno::AddrInUse => {
            // `binding 127.0.0.1:8080` said just before it.
            let said = t
                .before
                .iter()
                .find(|l| {
                    BIND_SAID.is_match(l) && address::find(l).is_some_and(|a| a.port.is_some())
                })
                .cloned()
                .unwrap_or_default();
            let all = &format!("{all}\n{said}");
            let port = service_port(all, ctx)
                .or_else(|| PORT_SAID.captures(all).and_then(|c| c["port"].parse().ok()));
            let host = address::find(all)
                .filter(|a| a.port.is_some() && a.port == port)
                .and_then(|a| a.host)
                .or_else(|| {
                    ctx.known
                        .iter()
                        .find(|k| k.port.is_some() && k.port == port)
                        .and_then(|k| k.host.clone())
                });
            let on = match (&host, port) {
                (Some(h), Some(p)) => format!(" on {h}:{p}"),
                _ => String::new(),
            };
            let port = port.map_or_else(|| "?".to_string(), |p| p.to_string());
            named(
                "port-in-use",
                format!("the port {port} is already in use{on}"),
            )
        }
        Errno::ConnRefused
        | Errno::TimedOut
        | Errno::ConnReset
        | Errno::Unreachable
        | Errno::NoSuchHost => {
            let (a, k) = dependency_of(t, all, ctx)?;
            let what = match e {
                Errno::ConnRefused => "refuses connections",
                Errno::TimedOut => "does not answer (timed out)",
                Errno::ConnReset => "resets the connection",
                Errno::Unreachable => "is unreachable",
                _ => "does not resolve",
            };
            named(
                "dependency-unavailable",
                format!("{} {what} ({})", describe(&a, k), e.name()),
            )
        }
        Errno::TooManyFiles => {
            let limit = ctx
                .open_files_limit
                .map_or_else(String::new, |n| format!(" (the limit is {n})"));
            named(
                "resource-limit",
                format!("too many open files (EMFILE){limit}: {}", t.quote()),
            )
        }
        Errno::NoProcesses => named(
            "resource-limit",
            format!(
                "no more processes or threads (EAGAIN: the process limit, `ulimit -u` or the cgroup's pids.max): {}",
                t.quote()
            ),
        ),
        Errno::NoSpace => {
            let mut texts: Vec<&str> = t.before.iter().rev().map(String::as_str).collect();
            texts.push(all);
            if let Some((name, dir, written)) = crate::env_hints::written_dir(ctx, &texts) {
                let file = if written == dir {
                    String::new()
                } else {
                    format!(", writing {written}")
                };
                return named(
                    "disk-full",
                    format!(
                        "no space left on the device holding {dir} ({name}){file}: {}",
                        t.quote()
                    ),
                );
            }
            let path = data_path_in(all)
                .map(|p| format!(" holding {p}"))
                .or_else(|| {
                    let before = t.before.join("\n");
                    data_path_in(&before).map(|p| format!(" (it was writing {p})"))
                })
                .or_else(|| {
                    // Nothing says where: the one directory its environment
                    // names (`EXPORT_DIR=/mnt/exports`) is where it writes.
                    let dirs: Vec<(&str, &str)> = crate::env_hints::paths(ctx)
                        .into_iter()
                        .filter(|(_, p)| std::path::Path::new(p).extension().is_none())
                        .collect();
                    match dirs.as_slice() {
                        [(name, dir)] => Some(format!(" holding {dir} ({name})")),
                        _ => None,
                    }
                })
                .unwrap_or_default();
            named(
                "disk-full",
                format!("no space left on the device{path}: {}", t.quote()),
            )
        }
        Errno::Access => {
            let binding = ["bind", "listen", "Bind"].iter().any(|w| all.contains(w));
            let port = || {
                service_port(all, ctx).map(|p| {
                    format!("binding :{p} (a port below 1024 needs root or CAP_NET_BIND_SERVICE)")
                })
            };
            let what = if binding {
                port().or_else(|| data_path_in(all))
            } else {
                data_path_in(all)
                    .or_else(|| data_path_in(&t.before.join("\n")))
                    .or_else(port)
            };
            named(
                "permission-denied",
                format!("access denied: {}", what.unwrap_or_else(|| t.quote())),
            )
        }
        Errno::NoEntry => {
            // Exit 127 and `xargs: wkhtmltopdf: No such file or directory`:
            // the program a launcher ran is not installed.
            if ctx.exit.as_deref() == Some("code 127")
                && let Some(c) = LAUNCHED_MISSING.captures(&t.error.message)
            {
                return program_not_installed(&c["program"], t);
            }
            // A Unix socket the environment points at is not there
            // (`/run/clamav/clamd.ctl`): its server is not running.
            if all.to_ascii_lowercase().contains("socket")
                || t.stack.iter().any(|l| l.contains("Socket"))
                || t.library
                    .as_deref()
                    .is_some_and(|l| l.to_ascii_lowercase().contains("socket"))
            {
                let sockets: Vec<(&str, &str)> = crate::env_hints::paths(ctx)
                    .into_iter()
                    .filter(|(n, p)| {
                        n.contains("SOCK")
                            || [".sock", ".ctl", ".socket"].iter().any(|x| p.ends_with(x))
                    })
                    .collect();
                if let [(name, path)] = sockets.as_slice() {
                    return named(
                        "dependency-unavailable",
                        format!(
                            "the socket {path} ({name}) does not exist: its server is not running ({})",
                            t.quote()
                        ),
                    );
                }
            }
            // `timeout: failed to run command ‘azcopy’: No such file or
            // directory` (timeout, nohup, env, chpst): the program it ran.
            if let Some(c) = RUN_COMMAND_FAILED.captures(all) {
                return program_not_installed(&c["program"], t);
            }
            // A program it runs is not installed: Node's `spawn ffmpeg
            // ENOENT`, Python's `FileNotFoundError` out of `subprocess`'s
            // `_execute_child`.
            let spawned = SPAWN_ENOENT
                .captures(all)
                .map(|c| c["program"].to_string())
                .or_else(|| {
                    t.stack
                        .iter()
                        .any(|l| l.contains("_execute_child") || l.contains("in _spawn"))
                        .then(|| LAST_QUOTED_NAME.captures(&t.error.message))
                        .flatten()
                        .map(|c| c["name"].to_string())
                });
            if let Some(program) = spawned {
                return program_not_installed(&program, t);
            }
            let path = OPENED
                .captures(all)
                .map(|c| c["path"].to_string())
                .or_else(|| path_in(all));
            if let Some(path) = path {
                return missing_file(&path, ctx);
            }
            // The error does not say which file: the one a variable of its
            // environment points at, if one does.
            let code = format!("{}\n{all}", t.stack.join("\n"));
            let (name, path) = crate::env_hints::file_meant(ctx, &code)?;
            missing_file(&path, ctx).map(|n| Named {
                summary: if n.summary.contains(&format!("({name})")) {
                    n.summary
                } else {
                    format!("{} ({name})", n.summary)
                },
                ..n
            })
        }
        Errno::NoMemory => None,
    }
}

/// A wrapper script's own failures: a program that is not there or not
/// executable, a directory that is gone, an env file that is missing.
fn shell(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let m = t.error.message.as_str();
    let exit = ctx.exit.as_deref().unwrap_or("");
    let subject = |m: &str| {
        m.split(": ")
            .find(|p| !p.is_empty() && *p != "exec" && *p != "cd" && *p != "." && *p != "source")
            .unwrap_or(m)
            .to_string()
    };
    if let Some(rest) = m
        .strip_prefix("cd: ")
        .or_else(|| m.strip_prefix("line 1: cd: "))
    {
        // dash: `cd: can't cd to /srv/app/current`; bash: `cd: /srv/app: No such …`.
        let dir = rest.split(": ").next().unwrap_or(rest);
        let dir = dir.strip_prefix("can't cd to ").unwrap_or(dir);
        return named(
            "workdir-missing",
            format!("the directory {dir} does not exist"),
        );
    }
    if let Some(rest) = m.strip_prefix(".: ").or_else(|| m.strip_prefix("source: ")) {
        let file = rest.split(": ").next().unwrap_or(rest);
        return named(
            "env-file-missing",
            format!("the file it sources, {file}, is missing"),
        );
    }
    if let Some(file) = m.strip_suffix(": No such file or directory")
        && exit != "code 127"
        && let Some(n) = missing_file(file, ctx)
        && n.id == "env-file-missing"
    {
        return Some(n);
    }
    if m.ends_with(": not found") || m.ends_with("command not found") || exit == "code 127" {
        return named(
            "command-not-found",
            format!("the program `{}` does not exist", subject(m)),
        );
    }
    if m.ends_with("Permission denied") && exit == "code 126" {
        return named(
            "command-not-found",
            format!("the program `{}` is not executable", subject(m)),
        );
    }
    if let Some(what) = m
        .strip_prefix("syntax error")
        .or_else(|| m.strip_prefix("Syntax error"))
    {
        // `deploy.sh:13`: bash says the line (of a file cut short, the last).
        let script = t
            .place
            .as_deref()
            .or(t.detail.first().map(String::as_str))
            .unwrap_or("the script");
        return named(
            "syntax-error",
            format!("the script {script} does not parse: syntax error{what}"),
        );
    }
    if m.ends_with("unbound variable") {
        let name = subject(m);
        return named(
            "missing-config",
            format!("a required setting is missing: {name}"),
        );
    }
    None
}

/// The script a launcher printed it runs (`> node --max-old-space-size=64
/// indexer.js`, npm's and yarn's echo of the start command), with a heap
/// limit it sets.
fn launched_script(before: &[String]) -> Option<String> {
    let line = before
        .iter()
        .find(|l| l.starts_with("> ") && !l.contains('@'))?;
    let words: Vec<&str> = line[2..].split_whitespace().collect();
    let script = words.iter().find(|w| {
        std::path::Path::new(w).extension().is_some_and(|e| {
            ["js", "mjs", "cjs", "ts", "py", "rb", "jar"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x))
        })
    })?;
    let limit = words
        .iter()
        .find(|w| w.starts_with("--max-old-space-size") || w.starts_with("-Xmx"))
        .map_or_else(String::new, |l| format!(" (with {l})"));
    Some(format!("{script}{limit}"))
}

/// A missing setting or an invalid configuration, in the forms of the
/// common frameworks and of programs' own checks.
fn missing_setting(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let n = setting_named(t, kinds, ctx)?;
    // A setting missing because its env file was not found: the file is the cause.
    if n.summary.starts_with("a required setting is missing")
        && let Some(file) = t.before.iter().find_map(|l| unfound_env_file(l))
    {
        return named(
            "env-file-missing",
            format!("the env file {file} is missing, so {}", n.summary),
        );
    }
    Some(n)
}

/// `could not find configuration file /etc/app/app.env`: the env file.
fn unfound_env_file(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    // A file that is there but does not parse ("missing quote … at line 2").
    if PARSE_POSITION.is_match(line) {
        return None;
    }
    let said_missing = [
        "could not find",
        "failed to find",
        "unable to find",
        "cannot find",
        "can't find",
        "unable to read",
        "could not read",
        "cannot read",
        "can't read",
        "not found",
        "no such file",
        "does not exist",
        "is missing",
        "file missing",
        "missing file",
        "missing env file",
    ]
    .iter()
    .any(|w| lower.contains(w))
        // `MISSING CONFIG FILE: /srv/app/.env.production`
        || lower.contains("missing") && lower.contains("file");
    if !said_missing {
        return None;
    }
    BARE_PATH
        .captures_iter(line)
        .chain(QUOTED_PATH.captures_iter(line))
        .chain(ENV_FILE_WORD.captures_iter(line))
        .map(|c| c["path"].trim_end_matches(['.', ',', ':']).to_string())
        .filter(|p| env_file_name(p))
        // `find .env file at path: .env.production`: the file, not the word.
        .max_by_key(String::len)
}

fn setting_named(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let _ = ctx;
    let m = t.error.message.as_str();
    let first = kinds.first().copied().unwrap_or("");
    // os.environ['X'], ENV.fetch("X")
    if first == "KeyError" {
        let key = m
            .trim_start_matches("key not found: ")
            .trim_matches(['\'', '"', ' ']);
        if SETTING.is_match(key) {
            return named(
                "missing-config",
                format!("a required setting is missing: {key}"),
            );
        }
    }
    // pydantic: "1 validation error for Settings" + the field names.
    if first == "ValidationError" && m.contains("validation error") {
        let fields: Vec<&str> = t
            .detail
            .iter()
            .filter_map(|l| {
                PYDANTIC_FIELD
                    .captures(l)
                    .map(|c| c.get(1).map_or("", |f| f.as_str()))
            })
            .collect();
        let what = if fields.is_empty() {
            m.to_string()
        } else {
            fields.join(", ")
        };
        return named(
            "missing-config",
            format!("the configuration is invalid: {what}"),
        );
    }
    // `UndefinedValueError: STRIPE_WEBHOOK_SECRET not found`,
    // `STRIPE_KEY was not found in the environment`.
    let said_absent = SETTING_SAID.is_match(m) || NAME_NOT_FOUND.is_match(m) || absent_type(first);
    if said_absent
        && first != "AssertionError"
        && !m.contains("AssertionError")
        && let Some(name) = setting_name(m).or_else(|| {
            absent_type(first)
                .then(|| setting_name(&t.detail.join("\n")))
                .flatten()
        })
    {
        return named(
            "missing-config",
            format!("a required setting is missing: {name}"),
        );
    }
    // `Missing required configuration property 'db.password'`.
    if said_absent
        && first != "AssertionError"
        && let Some(c) = QUOTED_SETTING.captures(m)
    {
        return named(
            "missing-config",
            format!("a required setting is missing: {}", &c["name"]),
        );
    }
    // `Invalid environment variables: { "JWT_SECRET": [ … ] }`: the names
    // are in the block below.
    if ENV_INVALID.is_match(m) {
        let below = t.detail.join("\n");
        let what = setting_name(&below).unwrap_or_else(|| t.quote());
        return named(
            "missing-config",
            format!("a required setting is missing or invalid: {what}"),
        );
    }
    // Guice's `ConfigurationException: No implementation for X was bound`
    // is the program's wiring, not its configuration.
    if config_type(first) && !m.contains("was bound") && !m.contains("Guice configuration") {
        return named(
            "missing-config",
            format!("the configuration is invalid: {}", t.quote()),
        );
    }
    // `Config validation error: "DATABASE_URL" must be a valid uri`.
    if CONFIG_SAID.is_match(m)
        && let Some(name) = QUOTED_NAME
            .captures(m)
            .map(|c| c["name"].to_string())
            .or_else(|| setting_name(m))
    {
        return named(
            "missing-config",
            format!("a setting is invalid or missing: {name}"),
        );
    }
    // `invalid partner configuration:` over a validator's list of issues
    // (z-schema's `"message": "Missing required property: feedUrl"`).
    if CONFIG_SAID.is_match(m)
        && let Some(issue) = t
            .detail
            .iter()
            .find_map(|l| ISSUE_MESSAGE.captures(l).map(|c| c["said"].to_string()))
    {
        return named(
            "missing-config",
            format!("the configuration is invalid: {issue} ({})", t.quote()),
        );
    }
    // `Required configuration option 'client' is missing`, `smtp.port: must be …`.
    if let Some(c) = CONFIG_KEY_INVALID.captures(m).or_else(|| {
        // `smtp.port: must be …`, not `redis.exceptions.ResponseError: …`
        // (a dotted exception type is no setting).
        DOTTED_SETTING.captures(m).filter(|c| {
            c["name"]
                .rsplit('.')
                .next()
                .is_some_and(|last| !last.starts_with(|ch: char| ch.is_ascii_uppercase()))
        })
    }) {
        return named(
            "missing-config",
            format!(
                "the configuration is invalid: `{}`: {}",
                &c["name"],
                t.quote()
            ),
        );
    }
    None
}

/// The setting a message names: an env-variable-shaped word
/// (`SMTP_ADDR` before `SMTP`), not a log level, a protocol or an error code.
fn setting_name(m: &str) -> Option<String> {
    let names: Vec<&str> = SETTING
        .captures_iter(m)
        .filter_map(|c| c.name("name").map(|n| n.as_str()))
        .filter(|n| {
            !n.starts_with("ERR_")
                && errno::find(n).is_none()
                && !matches!(
                    *n,
                    "ERROR"
                        | "FATAL"
                        | "WARN"
                        | "INFO"
                        | "DEBUG"
                        | "HTTP"
                        | "URL"
                        | "API"
                        | "JSON"
                        | "ENV"
                        | "SQL"
                        | "GET"
                        | "POST"
                        | "PUT"
                        | "HEAD"
                        | "DELETE"
                        | "PATCH"
                        | "TLS"
                        | "SSL"
                        | "UTF"
                        | "NOT_FOUND"
                        | "AMQP"
                        | "SMTP"
                        | "TCP"
                        | "UDP"
                        | "DNS"
                )
        })
        .collect();
    names
        .iter()
        .find(|n| n.contains('_'))
        .or(names.first())
        .map(|n| (*n).to_string())
}

/// A file that is not there: an env file, or any other it needs, with the
/// variable (or flag) of the service that points at it.
fn missing_file(path: &str, ctx: &Context) -> Option<Named> {
    if let Some(c) = DEPENDENCIES_DIR.captures(path) {
        return named(
            "missing-module",
            format!(
                "the runtime cannot import `{}`: the installed dependencies are missing (run the install step: composer install, npm ci, pip install)",
                &c["path"]
            ),
        );
    }
    if env_file_name(path) {
        return named(
            "env-file-missing",
            format!("the env file {path} is missing"),
        );
    }
    let by = crate::env_hints::paths(ctx)
        .into_iter()
        .find(|(_, v)| *v == path || ctx.absolute(v) == path)
        .map_or_else(String::new, |(name, _)| format!(" ({name})"));
    let what = if crate::env_hints::key_material(path) {
        "the key or certificate it needs is missing"
    } else {
        "a file it needs is missing"
    };
    named("missing-config", format!("{what}: {path}{by}"))
}

/// A path `text` names that is not the program's own source file (a
/// script's path in "… in /srv/app/bin/run.php on line 19").
fn data_path_in(text: &str) -> Option<String> {
    let source = |p: &str| {
        std::path::Path::new(p).extension().is_some_and(|e| {
            [
                "php", "py", "rb", "pl", "pm", "js", "mjs", "cjs", "ts", "go", "java", "psgi",
            ]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
        })
    };
    NODE_PATH_FIELD
        .captures(text)
        .map(|c| c["path"].to_string())
        .into_iter()
        .chain(
            QUOTED_PATH
                .captures_iter(text)
                .map(|c| c["path"].to_string()),
        )
        .chain(
            BARE_PATH
                .captures_iter(text)
                .map(|c| c["path"].trim_end_matches([':', ',', '.', ')']).to_string()),
        )
        .find(|p| (p.contains('/') || p.contains('.')) && !source(p))
}

/// A file path `text` names, quoted or bare.
fn path_in(text: &str) -> Option<String> {
    QUOTED_PATH
        .captures_iter(text)
        .map(|c| c["path"].to_string())
        .find(|p| p.contains('/') || p.contains('.'))
        .or_else(|| {
            BARE_PATH
                .captures(text)
                .map(|c| c["path"].trim_end_matches([':', ',', '.']).to_string())
        })
}

/// `./run: line 5: /etc/default/app: No such file or directory` with a
/// status other than 127 is a file a shell script sources (a missing
/// program exits 127): its defaults, an env file by another name.
fn sourced_file_missing(t: &TerminalError, exit: &str) -> Option<Named> {
    let m = t.error.message.as_str();
    // The shell's own line, or its message once `script: line 5: ` is read off.
    let file = match SOURCED_MISSING.captures(m) {
        Some(c) => c.name("file")?.as_str(),
        None if t.runtime == Runtime::Shell => m
            .strip_suffix(": No such file or directory")
            .filter(|f| f.starts_with('/') && !f.contains(": "))?,
        None => return None,
    };
    let plain = std::path::Path::new(file).extension().is_none_or(|e| {
        ["env", "sh", "conf", "cfg", "defaults", "rc"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    (exit != "code 127" && plain).then(|| Named {
        id: "env-file-missing",
        summary: format!("the file it sources, {file}, is missing"),
        strong: true,
    })
}

/// The dotted module name of the Python file at `place`
/// (`/srv/app/ledger/models.py, line 2` → `ledger.models`), read from the
/// top package of `sibling` (a module of the same package tree).
fn dotted_module(place: &str, sibling: &str) -> Option<String> {
    let file = place.split(", line").next()?.trim();
    let top = sibling.split('.').next()?;
    let at = file.rfind(&format!("/{top}/"))?;
    let rel = file[at + 1..].strip_suffix(".py")?;
    let rel = rel.strip_suffix("/__init__").unwrap_or(rel);
    Some(rel.replace('/', "."))
}

/// Whether a place (`main.py, line 3`, `app.pl line 4`) is in the
/// program's own source code.
fn source_place(place: &str) -> bool {
    let file = place.split([',', ':', ' ']).next().unwrap_or(place);
    std::path::Path::new(file).extension().is_some_and(|e| {
        [
            "py", "rb", "pl", "pm", "js", "mjs", "cjs", "ts", "go", "java", "php", "rs",
        ]
        .iter()
        .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// The configuration file a line just before the error says is being
/// loaded (`loading configuration from /etc/agent.toml`).
fn loaded_config(t: &TerminalError) -> Option<String> {
    // Node prints the throwing line of its source first (`file:1294`, the
    // code, a caret): not what the program was doing.
    t.before
        .iter()
        .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l))
        .take(3)
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            CONFIG_WORD.is_match(l)
                || ["load", "read", "open", "pars"]
                    .iter()
                    .any(|w| lower.contains(w))
        })
        .find_map(|l| {
            CONFIG_FILE
                .find(l)
                .map(|m| m.as_str().to_string())
                // A dated file is a batch of input, not the configuration.
                .filter(|f| !f.starts_with("in JSON") && !crate::env_hints::dated(f))
        })
}

/// Perl's `die` exits with the errno of the failure (`$!`): a status that
/// is one of the table's faults, where the message says something failed.
/// Not 1 and 2: a stale `$!` is often EPERM or ENOENT.
fn perl_errno(t: &TerminalError, ctx: &Context) -> Option<Errno> {
    if t.runtime != Runtime::Perl {
        return None;
    }
    let code: i64 = ctx.exit.as_deref()?.strip_prefix("code ")?.parse().ok()?;
    if !(3..255).contains(&code) {
        return None;
    }
    let lower = t.error.message.to_ascii_lowercase();
    ["unable to", "cannot", "can't", "could not", "failed"]
        .iter()
        .any(|w| lower.contains(w))
        .then(|| Errno::of_number(code))
        .flatten()
}

static MARKED_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^\d+> \S").expect("UNWRAP: a constant pattern")
});

/// The SQLite database a variable of the environment points at.
fn sqlite_file(ctx: &Context) -> Option<String> {
    crate::env_hints::paths(ctx)
        .into_iter()
        .find(|(_, p)| {
            std::path::Path::new(p).extension().is_some_and(|e| {
                ["db", "sqlite", "sqlite3"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            })
        })
        .map(|(_, p)| p.to_string())
}

/// Whether `t` was raised in an installed package (a dependency), not in
/// the program's own code.
fn raised_in_dependency(t: &TerminalError) -> bool {
    t.library.is_some()
        || t.place
            .as_deref()
            .is_some_and(|p| DEPENDENCIES_DIR.is_match(p))
}

/// A value that is absent (`None`, `undefined`) fails a call, just after
/// the program said it reads a variable its environment does not have
/// (`signing key source: env TOKEN_SIGNING_SECRET`): the variable is unset.
fn absent_variable(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let generic = t
        .error
        .kind
        .as_deref()
        .is_none_or(|k| k == "Error" || k == "Exception");
    if !(generic || kinds.first().is_some_and(|k| programming_type(k)))
        || !NONE_VALUE.is_match(&t.error.message)
    {
        return None;
    }
    let absent = |v: &String| !ctx.env.iter().any(|(n, _)| n == v);
    // What it said it reads, else what the code of the failing frames
    // reads (`key = os.environ.get("SIGNING_KEY")`, innermost first).
    let var = t
        .before
        .iter()
        .find_map(|l| {
            ENV_READ
                .captures_iter(l)
                .map(|c| c["var"].to_string())
                .find(absent)
        })
        .or_else(|| {
            t.stack.iter().rev().find_map(|l| {
                CODE_ENV_READ
                    .captures_iter(l)
                    .filter_map(|c| c.name("var").or_else(|| c.name("v2")))
                    .map(|m| m.as_str().to_string())
                    .find(absent)
            })
        })?;
    named(
        "missing-config",
        format!(
            "the setting {var} is not set: the program reads it and fails without it ({})",
            t.quote()
        ),
    )
}

/// `crashed`, from the terminal error: what to quote, the errno when there
/// is one, and the runtime.
pub fn crashed_summary(t: &TerminalError, exit: Option<&str>) -> String {
    let errno = t
        .texts()
        .find_map(errno::find)
        .map(|e| e.name().to_string())
        // Node's own error codes (`code: 'ERR_INVALID_ARG_TYPE'`) say what
        // kind of bug it is, and are what one searches for.
        .or_else(|| node_code(t).map(str::to_string))
        .filter(|name| !t.quote().contains(name.as_str()))
        .map_or_else(String::new, |name| format!(" ({name})"));
    let exits = exit.map_or_else(|| "it fails".to_string(), |e| format!("it exits ({e})"));
    let at = t
        .place
        .as_ref()
        .map_or_else(String::new, |p| format!(" ({p})"));
    // Python's "During handling of the above exception": the one it was
    // handling is often the real bug.
    let from = match (t.runtime, t.chain.last()) {
        (Runtime::Python, Some(cause)) => {
            let q = cause.kind.as_ref().map_or_else(
                || cause.message.clone(),
                |k| format!("{k}: {}", cause.message),
            );
            format!(", raised from {q}")
        }
        _ => String::new(),
    };
    // A message that only announces a list (`Guice configuration errors:`):
    // the list's first line says what.
    let listed = if t.error.message.trim_end().ends_with(':') {
        t.detail
            .iter()
            .map(|l| l.trim())
            .find(|l| l.len() > 3 && !l.starts_with("at "))
            .map_or_else(String::new, |l| format!(" {l}"))
    } else {
        // The error said on the line below (nunjucks: `Error: Unable to
        // call `formatMoney``).
        t.detail
            .iter()
            .find(|l| l.starts_with("Error: ") || l.contains("Error: "))
            .map_or_else(String::new, |l| format!(": {l}"))
    };
    format!(
        "{exits} on a {} error no known cause explains: {}{listed}{from}{errno}{at}",
        t.runtime.name(),
        t.quote()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_hints::tests::ctx as env;
    use crate::terminal;

    /// `text` named `cause`, its summary naming each of `specifics`.
    fn named_as(text: &str, ctx: &Context, cause: &str, specifics: &[&str]) -> Named {
        let n = id(text, ctx).unwrap_or_else(|| panic!("no cause named for {text}"));
        assert_eq!(n.id, cause, "{}", n.summary);
        for s in specifics {
            assert!(n.summary.contains(s), "{s:?} not in {:?}", n.summary);
        }
        n
    }

    fn id(text: &str, ctx: &Context) -> Option<Named> {
        let lines: Vec<&str> = text.lines().collect();
        let t = terminal::find(&lines).pop().expect("a terminal error");
        classify(&t, ctx)
    }

    #[test]
    fn the_examples_of_the_issue() {
        let ctx = Context {
            known: vec![
                Known::parse("LEDGER_DB", "postgresql://app@127.0.0.1:5432/ledger").unwrap(),
            ],
            ..Context::default()
        };
        let asyncpg = id(
            "Traceback (most recent call last):
  File \"/app/main.py\", line 3, in <module>
    asyncio.run(main())
OSError: Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432), [Errno 99] Cannot assign requested address",
            &ctx,
        )
        .unwrap();
        assert_eq!(asyncpg.id, "dependency-unavailable");
        assert!(
            asyncpg
                .summary
                .starts_with("LEDGER_DB at postgresql://127.0.0.1:5432 refuses connections"),
            "{}",
            asyncpg.summary
        );
        let node = id(
            "Error: JWT_SECRET is not set
    at Object.<anonymous> (/app/index.js:2:28)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)",
            &Context::default(),
        )
        .unwrap();
        assert_eq!(
            node.summary,
            "a required setting is missing: JWT_SECRET (Error: JWT_SECRET is not set)"
        );
    }

    #[test]
    fn type_names_are_read_by_their_words() {
        assert_eq!(
            type_words("AMQPConnectorStackTimeout"),
            ["AMQP", "Connector", "Stack", "Timeout"]
        );
        assert_eq!(type_words("JSONDecodeError"), ["JSON", "Decode", "Error"]);
        assert!(unreachable_type("AMQPConnectorStackTimeout"));
        assert!(unreachable_type("ConnectionClosedError"));
        assert!(!unreachable_type("ConnectionPoolSettings"));
        assert!(absent_type("UndefinedValueError"));
        assert!(config_type("ConfigValidationError"));
        assert!(!config_type("EnvironmentError"), "an alias of OSError");
        assert!(parse_type("ScannerError"));
        assert!(programming_type("TypeError") && !programming_type("ClusterAllFailedError"));
    }

    #[test]
    fn a_client_library_names_the_dependency_an_error_does_not() {
        let ctx = Context {
            known: Known::from_env([
                ("REDIS_NODES", "127.0.0.1:27001,127.0.0.1:27002"),
                ("DATABASE_URL", "postgres://app@127.0.0.1:5432/app"),
            ]),
            ..Context::default()
        };
        let n = id(
            "ClusterAllFailedError: Failed to refresh slots cache.
    at tryNode (/app/node_modules/ioredis/built/cluster/index.js:336:31)",
            &ctx,
        )
        .unwrap();
        assert_eq!(n.id, "dependency-unavailable");
        assert!(
            n.summary.starts_with("REDIS_NODES at 127.0.0.1:27001"),
            "{}",
            n.summary
        );
        // A bug's type raised inside the same library stays unexplained.
        assert_eq!(
            id(
                "TypeError: key must be a string
    at Redis.get (/app/node_modules/ioredis/built/Redis.js:12:3)",
                &ctx,
            ),
            None
        );
    }

    #[test]
    fn a_declared_address_is_shown_as_declared() {
        let ctx = Context {
            known: vec![Known::parse("AMQP_URL", "amqp://u:p@localhost:5672/x").unwrap()],
            ..Context::default()
        };
        let n = id(
            "Error: connect ECONNREFUSED 127.0.0.1:5672
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)",
            &ctx,
        )
        .unwrap();
        assert!(
            n.summary.starts_with(
                "AMQP_URL at amqp://localhost:5672 (127.0.0.1:5672) refuses connections"
            ),
            "{}",
            n.summary
        );
    }

    #[test]
    fn a_refusal_on_the_service_own_port_is_no_dependency() {
        let ctx = Context {
            own_ports: vec![8000],
            ..Context::default()
        };
        assert_eq!(
            id(
                "Traceback (most recent call last):
  File \"/app/probe.py\", line 3, in <module>
ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8000)",
                &ctx
            ),
            None
        );
    }

    #[test]
    fn a_program_it_spawns_that_is_not_installed_is_command_not_found() {
        named_as(
            "Error: spawn ffmpeg ENOENT
    at ChildProcess._handle.onexit (node:internal/child_process:286:19)
  errno: -2,
  code: 'ENOENT',
  syscall: 'spawn ffmpeg',
  path: 'ffmpeg',
  spawnargs: [ '-i', '/tmp/in.mov' ]",
            &Context::default(),
            "command-not-found",
            &["`ffmpeg`"],
        );
        named_as(
            "Traceback (most recent call last):
  File \"/app/thumbs.py\", line 4, in <module>
    subprocess.run([\"convert\", \"a.png\", \"b.png\"])
  File \"/usr/lib/python3.11/subprocess.py\", line 1950, in _execute_child
    raise child_exception_type(errno_num, err_msg, err_filename)
FileNotFoundError: [Errno 2] No such file or directory: 'convert'",
            &Context::default(),
            "command-not-found",
            &["`convert`"],
        );
    }

    #[test]
    fn a_schema_or_parser_verdict_names_the_data_file_it_read() {
        // A library's namespaced ParseError is about data, not the code.
        named_as(
            "recs.rb:3:in `load': expected hash key, not a hash close at line 7, column 4 [parse.c:678] (Oj::ParseError)
\tfrom recs.rb:3:in `<main>'",
            &env(&[("RECS_WEIGHTS", "/srv/recs/weights.json")]),
            "missing-config",
            &["/srv/recs/weights.json"],
        );
        named_as(
            "Traceback (most recent call last):
  File \"/app/hub.py\", line 8, in <module>
    cfg = schema(json.load(f))
voluptuous.error.MultipleInvalid: required key not provided @ data['channels'][1]['webhook_url']",
            &env(&[("NOTIFY_CHANNELS", "/srv/notify/channels.json")]),
            "missing-config",
            &["/srv/notify/channels.json"],
        );
        let key = id(
            "Traceback (most recent call last):
  File \"/app/gw.py\", line 7, in <module>
    key = load_pem_private_key(f.read(), password=None)
ValueError: Could not deserialize key data.",
            &env(&[("GATEWAY_TLS_KEY", "/srv/gw/tls.key")]),
        )
        .unwrap();
        assert_eq!(key.id, "missing-config");
        assert!(
            key.summary
                .starts_with("the key or certificate /srv/gw/tls.key"),
            "{}",
            key.summary
        );
    }

    #[test]
    fn a_config_file_passed_on_the_command_line_is_named() {
        let ctx = Context {
            command: [
                "java",
                "-Dconfig.file=/srv/pay/application.conf",
                "-jar",
                "pay.jar",
            ]
            .map(String::from)
            .to_vec(),
            ..Context::default()
        };
        named_as(
            "Exception in thread \"main\" com.typesafe.config.ConfigException$Missing: No configuration setting found for key 'gateway.url'
\tat com.typesafe.config.impl.SimpleConfig.findKeyOrNull(SimpleConfig.java:152)
\tat Pay.main(Pay.java:5)",
            &ctx,
            "missing-config",
            &["/srv/pay/application.conf", "gateway.url"],
        );
    }

    #[test]
    fn a_relative_env_file_is_named_from_the_working_directory() {
        let ctx = Context {
            dir: Some("/srv/mailer".into()),
            ..Context::default()
        };
        named_as(
            "Error: Failed to find .env file at path: .env.production
    at getEnvFile (file:///srv/mailer/node_modules/env-cmd/dist/get-env-vars.js:42:19)",
            &ctx,
            "env-file-missing",
            &["/srv/mailer/.env.production"],
        );
    }

    #[test]
    fn a_command_line_parser_refusal_is_a_missing_argument() {
        named_as(
            "Exception in thread \"main\" org.apache.commons.cli.MissingOptionException: Missing required option: warehouse
\tat org.apache.commons.cli.DefaultParser.checkRequiredOptions(DefaultParser.java:243)
\tat StockImport.main(StockImport.java:9)",
            &Context::default(),
            "missing-config",
            &["warehouse"],
        );
    }

    #[test]
    fn a_client_library_whose_name_starts_like_conf_is_no_config_library() {
        assert!(!config_library("confluent_kafka"));
        assert!(config_library("omegaconf"));
        assert!(config_library("pydantic_settings"));
        assert!(config_library("node-config"));
    }

    #[test]
    fn last_words_naming_a_declared_dependency_are_that_dependency_failing() {
        let ctx = Context {
            known: Known::from_env([("CATALOG_MONGO_URL", "mongodb://10.1.2.3:27017/catalog")]),
            exit: Some("code 1".into()),
            ..Context::default()
        };
        let lines = [
            "2026/12/03 16:15:33 catalog: mongo dial mongodb://10.1.2.3:27017/catalog: handshake aborted",
        ];
        let t = terminal::last_words(&lines).unwrap();
        let n = classify(&t, &ctx).unwrap();
        assert_eq!(n.id, "dependency-unavailable");
        assert!(n.summary.contains("10.1.2.3:27017"), "{}", n.summary);
        // The same line from a process that died by a signal, or a line
        // that says nothing failed, is no dependency's fault.
        let segv = Context {
            exit: Some("signal SEGV".into()),
            ..ctx.clone()
        };
        assert_eq!(classify(&t, &segv), None);
        let calm = ["route app -> mongodb://10.1.2.3:27017/catalog (len 15)"];
        assert_eq!(classify(&terminal::last_words(&calm).unwrap(), &ctx), None);
    }

    #[test]
    fn a_none_read_from_an_unset_variable_in_the_failing_code_is_that_setting() {
        named_as(
            "Traceback (most recent call last):
  File \"/app/sign.py\", line 6, in <module>
    token = jwt.encode(claims, os.environ.get(\"SIGNING_KEY\"), algorithm=\"HS256\")
  File \"/venv/lib/python3.11/site-packages/jwt/api_jws.py\", line 120, in encode
    key = alg_obj.prepare_key(key)
TypeError: Expected a string value",
            &env(&[("APP_ENV", "production")]),
            "missing-config",
            &["SIGNING_KEY"],
        );
        // Set: the variable is not the explanation.
        let set = id(
            "Traceback (most recent call last):
  File \"/app/sign.py\", line 6, in <module>
    token = jwt.encode(claims, process.env[\"SIGNING_KEY\"])
TypeError: Expected a string value",
            &env(&[("SIGNING_KEY", "x")]),
        );
        assert!(
            set.as_ref().is_none_or(|n| n.id != "missing-config"),
            "{set:?}"
        );
    }

    #[test]
    fn a_sub_exception_of_a_group_is_the_failure() {
        named_as(
            "  + Exception Group Traceback (most recent call last):
  |   File \"/app/gw.py\", line 18, in main
  |     settings = ts.load(Settings, appname=\"notify\")
  | typed_settings.exceptions.InvalidSettingsError: 1 errors occured while converting (1 sub-exception)
  +-+---------------- 1 ----------------
    | typed_settings.exceptions.InvalidValueError: No value set for required option 'push_api_url'
    +------------------------------------",
            &Context::default(),
            "missing-config",
            &["push_api_url"],
        );
    }

    #[test]
    fn an_env_schema_names_the_variables_it_printed_before_failing() {
        let n = id(
            "❌ Invalid environment variables: [
  {
    code: 'invalid_type',
    path: [ 'STRIPE_SECRET_KEY' ],
    message: 'Invalid input: expected string, received undefined'
  },
  {
    code: 'invalid_type',
    path: [ 'CHECKOUT_SUCCESS_URL' ],
    message: 'Invalid input: expected string, received undefined'
  }
]
file:///app/node_modules/@t3-oss/env-core/dist/index.js:32
\t\tthrow new Error(\"Invalid environment variables\");
\t\t      ^

Error: Invalid environment variables
    at onValidationError (file:///app/node_modules/@t3-oss/env-core/dist/index.js:32:9)
    at file:///app/api.mjs:6:20",
            &Context::default(),
        )
        .unwrap();
        assert_eq!(n.id, "missing-config");
        assert!(
            n.summary
                .contains("STRIPE_SECRET_KEY, CHECKOUT_SUCCESS_URL"),
            "{}",
            n.summary
        );
    }

    #[test]
    fn a_library_s_command_not_found_type_is_a_missing_program() {
        named_as(
            "Traceback (most recent call last):
  File \"/app/labels.py\", line 9, in <module>
    pdf = sh.wkhtmltopdf(\"in.html\", \"out.pdf\")
  File \"/venv/lib/python3.11/site-packages/sh/__init__.py\", line 1305, in __getattr__
sh.CommandNotFound: wkhtmltopdf",
            &Context::default(),
            "command-not-found",
            &["`wkhtmltopdf`"],
        );
    }

    #[test]
    fn a_usage_printed_on_failure_names_the_options_the_command_line_lacks() {
        let lines = [
            "Warning: found unmatched (duplicate?) arguments [Option(None, '--since', 1, '2026-12-01')]",
            "Usage:",
            "  sync.py --warehouse=<id> --since=<date> [--dry-run]",
            "  sync.py (-h | --help)",
        ];
        let t = terminal::last_words(&lines).unwrap();
        let ctx = Context {
            exit: Some("code 1".into()),
            command: ["python3", "sync.py", "--since=2026-12-01"]
                .map(String::from)
                .to_vec(),
            ..Context::default()
        };
        let n = classify(&t, &ctx).unwrap();
        assert_eq!(n.id, "missing-config");
        assert!(
            n.summary.contains("it requires --warehouse ("),
            "{}",
            n.summary
        );
    }

    #[test]
    fn a_data_file_the_program_names_as_invalid_is_the_configuration() {
        let lines = [
            "edgeproxy: loading /etc/edgeproxy/edgeproxy.hcl",
            "edgeproxy: config /etc/edgeproxy/edgeproxy.hcl: At 11:1: object expected closing RBRACE got: IDENT",
        ];
        let t = terminal::last_words(&lines).unwrap();
        let n = classify(&t, &Context::default()).unwrap();
        assert_eq!(n.id, "missing-config");
        assert!(
            n.summary.contains("/etc/edgeproxy/edgeproxy.hcl"),
            "{}",
            n.summary
        );
    }

    #[test]
    fn a_template_engine_error_quotes_what_went_wrong_not_the_template() {
        let n = id(
            "TypeError: /app/views/statement.ejs:3
    1| Monthly statement
 >> 3|   <%= o.discount.code %>
    4| <% }) %>

Cannot read properties of undefined (reading 'code')
    at eval (\"/app/views/statement.ejs\":23:23)
    at Object.<anonymous> (/app/render.js:16:5)",
            &Context::default(),
        );
        // A bug: no cause is named, and the crash quotes the real message.
        assert!(n.is_none(), "{n:?}");
        let lines: Vec<&str> = [
            "TypeError: /app/views/statement.ejs:3",
            "    1| Monthly statement",
            "",
            "Cannot read properties of undefined (reading 'code')",
            "    at Object.<anonymous> (/app/render.js:16:5)",
        ]
        .to_vec();
        let t = terminal::find(&lines).pop().unwrap();
        assert_eq!(
            t.error.message,
            "Cannot read properties of undefined (reading 'code')"
        );
    }

    #[test]
    fn an_option_the_usage_lists_is_named_as_an_option() {
        let lines = [
            "Mandatory parameter 'to' missing in call to \"eval\"",
            "",
            "rebalance.pl [long options...]",
            "\t--from STR       source warehouse code",
            "\t--to STR         target warehouse code",
        ];
        let t = terminal::last_words(&lines).unwrap();
        let n = classify(&t, &Context::default()).unwrap();
        assert_eq!(n.id, "missing-config");
        assert!(n.summary.contains("--to"), "{}", n.summary);
    }

    #[test]
    fn a_go_panic_on_a_value_is_no_data_file_and_a_missing_socket_is_its_server() {
        let lines = [
            "panic: uuid: Parse(RF-2026-12-03-0019): invalid UUID length: 18",
            "",
            "goroutine 1 [running]:",
        ];
        let t = terminal::last_words(&lines).unwrap();
        let ctx = env(&[("REFUND_BATCH", "/srv/refunds/batch-0412.json")]);
        assert!(
            classify(&t, &ctx).is_none_or(|n| n.id != "missing-config"),
            "a panic is the program's"
        );
        named_as(
            "Exception in thread \"main\" java.io.IOException: No such file or directory
\tat jnr.unixsocket.UnixSocketChannel.doConnect(UnixSocketChannel.java:127)
\tat UploadScan.main(UploadScan.java:12)",
            &env(&[("CLAMD_SOCKET", "/run/clamav/clamd.ctl")]),
            "dependency-unavailable",
            &["/run/clamav/clamd.ctl"],
        );
    }

    #[test]
    fn a_value_of_its_environment_that_does_not_convert_is_that_setting() {
        // Named by the variable's name in the message (a Go program's last
        // log line: no error of a known shape) …
        let lines = [
            "2026/12/03 20:19:16 quota-svc: invalid QUOTA_LIMIT: strconv.Atoi: parsing \"1k\": invalid syntax",
        ];
        let quota = env(&[("QUOTA_LIMIT", "1k"), ("QUOTA_WINDOW", "1m")]);
        let n = terminal::last_words_all(&lines)
            .iter()
            .find_map(|t| classify(t, &quota))
            .expect("named");
        assert_eq!(n.id, "missing-config");
        assert!(
            n.summary.contains("QUOTA_LIMIT is invalid"),
            "{}",
            n.summary
        );
        // … or by the value it quotes, which one variable holds.
        let workers = env(&[("MAIL_WORKERS", "eight"), ("MAIL_FROM", "ops@example.org")]);
        named_as(
            "mail_worker.rb:3:in `Integer': invalid value for Integer(): \"eight\" (ArgumentError)
\tfrom mail_worker.rb:3:in `<main>'",
            &workers,
            "missing-config",
            &["MAIL_WORKERS is invalid"],
        );
        // A value no variable holds is the program's own.
        let n = id(
            "mail_worker.rb:3:in `Integer': invalid value for Integer(): \"nine\" (ArgumentError)
\tfrom mail_worker.rb:3:in `<main>'",
            &workers,
        );
        assert!(n.as_ref().is_none_or(|n| n.id != "missing-config"), "{n:?}");
    }

    #[test]
    fn a_schema_verdict_on_a_file_that_parsed_says_it_is_not_valid() {
        let flags = env(&[("FLAGS_FILE", "/srv/flags/flags.json")]);
        for (text, specific) in [
            (
                "INFO loading flags from /srv/flags/flags.json
Error: invalid_type at .flags.1.rollout (expected number)
    at ObjectType.parse (/app/node_modules/@badrap/valita/dist/index.js:466:15)",
                "rollout",
            ),
            (
                "Traceback (most recent call last):
  File \"/app/payout_cfg.py\", line 11, in <module>
    s.validate()
schematics.exceptions.DataError: {\"merchant_id\": [\"This field is required.\"]}",
                "merchant_id",
            ),
            (
                "Exception in thread \"main\" java.lang.IllegalStateException: required property pricing.minMargin missing in /srv/flags/flags.json
\tat PricingEngine.main(PricingEngine.java:9)",
                "pricing.minMargin",
            ),
        ] {
            named_as(
                text,
                &flags,
                "missing-config",
                &["/srv/flags/flags.json", "is not valid", specific],
            );
        }
    }

    #[test]
    fn a_missing_file_is_named_with_the_variable_that_points_at_it() {
        named_as(
            "INFO tls-gw loading certificate /etc/gw/server.crt
Traceback (most recent call last):
  File \"/app/tls_gateway.py\", line 6, in <module>
    ctx.load_cert_chain(cert, key)
FileNotFoundError: [Errno 2] No such file or directory",
            &env(&[
                ("TLS_CERT_FILE", "/etc/gw/server.crt"),
                ("TLS_KEY_FILE", "/etc/gw/server.key"),
            ]),
            "missing-config",
            &["the key or certificate it needs is missing: /etc/gw/server.crt (TLS_CERT_FILE)"],
        );
    }
}
