//! Classification by structure: a terminal error ([`crate::terminal`]) is
//! named by what is stable across runtimes and phrasings — its exception
//! type and the types it was raised from, the errno it carries
//! ([`crate::errno`]), the address it names ([`crate::address`]) — and by
//! what backstop itself knows about the service ([`Context`]).
//!
//! Phrase patterns ([`crate::rules`]) come after this, for what has no
//! structure (a log line of a framework, backstop's own messages).

use crate::address::{self, Address, Known};
use crate::errno::{self, Errno};
use crate::terminal::{Runtime, TerminalError};

mod by_errno;
mod crashed;
mod dependencies;
mod files;
mod memory;
mod parsing;
mod settings;
mod shell;
#[cfg(test)]
mod tests;
mod types;
mod values;

use by_errno::{by_errno, perl_errno, sqlite_file};
use dependencies::{
    auth_said_before, dependency, dependency_of, describe, node_code, only_named_host, own,
    server_kind, service_port,
};
use files::{
    data_path_in, dotted_module, loaded_config, missing_file, path_in, program_not_installed,
    raised_in_dependency, source_place,
};
use memory::out_of_memory;
use settings::{
    absent_variable, config_library, env_file_name, env_schema_listed, listed_config_errors,
    missing_setting, setting_name, unfound_env_file,
};
use shell::{launched_script, shell, sourced_file_missing};
use types::{
    FILE_TYPES, MEMORY_TYPES, MODULE_TYPES, SYNTAX_TYPES, absent_type, config_type, has_word,
    programming_type, short, type_words, unreachable_type,
};

pub use crashed::crashed_summary;
pub use dependencies::{names_own_address, target_of};

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
    /// The user it runs as (`root`, `app`), when known: root is refused
    /// no directory, so a file it cannot create is in one that is missing.
    pub user: Option<String>,
    /// Paths of its environment whose filesystem had no space left when it
    /// was diagnosed (`EXPORT_DIR=/srv/exports` on a full disk): a write
    /// that failed without an errno there is a full disk.
    pub full: Vec<String>,
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

/// A line of an inspected object that says nothing by itself: one that
/// opens a nested object or list, a private property (`_issueTree: {`),
/// a flag (`ok: false,`), an errno number the message names by its name.
fn object_scaffolding(line: &str) -> bool {
    let l = line.trim().trim_end_matches(',');
    let Some((key, value)) = l.split_once(": ") else {
        return false;
    };
    let property = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_');
    property
        && (value == "{"
            || value == "["
            || key.starts_with('_')
            || matches!(value, "true" | "false" | "null" | "undefined")
            || key == "errno")
}

/// Whether the program's own code that failed loads its settings
/// (`loadConfig` in `config.mjs`, `settings.py`).
fn settings_code(t: &TerminalError) -> bool {
    t.own_frame.as_ref().is_some_and(|f| {
        let stem = f
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&f.file)
            .to_ascii_lowercase();
        let function = f.function.as_deref().unwrap_or("").to_ascii_lowercase();
        [stem.as_str(), function.as_str()]
            .iter()
            .any(|n| n.contains("config") || n.contains("setting") || n.contains(".conf."))
    })
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
    r"(?i)\b(?:not set|must set|must be set|must be defined|must be (?:configured|provided|specified|given)|is required|are required|required|missing|undefined|is empty|must not be empty|cannot be empty|can't be empty|must not be blank|is blank|not defined|not configured|not provided|unset|no value|key not found|not found in (?:the )?environment|unbound variable)\b"
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
    r"(?i)password authentication failed|WRONGPASS|NOAUTH|invalid username-password|access denied for user|authentication failed|invalidpassworderror|invalid password|auth(?:entication)? required|SASL authentication failed|AuthenticationError|\b401 Unauthorized\b|\bstatus(?: code)?:? 40[13]\b|\x22status(?:_?[cC]ode)?\x22\s*:\s*40[13]\b|HTTP(?:/[\d.]+)? 40[13]\b|\bHTTP Error 40[13]\b|\bHTTP response code: 40[13]\b|\b40[13]:? (?:Unauthori[sz]ed|Forbidden)\b|\bUnauthori[sz]ed\b|invalid_token|invalid api key|\b403 Forbidden\b|\b(?:refused|rejected|wrong|bad|incorrect) (?:the )?password\b|\bpassword (?:was )?(?:refused|rejected|incorrect)\b|\b(?:rejected|refused) (?:the |our )?credentials\b|\bcredentials (?:are |were )?(?:invalid|rejected|refused)\b|\b535[ -]5\.7\.\d\b|\b5\.7\.8\b|\b(?:could not|couldn't|unable to|failed to) authenticate\b|\bnot authori[sz]ed\b|\blogin (?:to \S+ )?failed\b|\bfailed to log ?in\b|\blogin incorrect\b"
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
    r"(?i)\bchdir\b|\bcd\b:|\bpushd\b:|\bworking directory\b|\bworkdir\b|\bcwd\b|\bcannot change (?:to )?directory\b|\bcan't cd to\b"
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
    r#"(?i)\bcould not find driver\b|\bunknown driver "(?P<driver>[^"]+)"|No suitable driver found for (?P<url>\S+)|\bdriver (?:not found|not registered)(?::| for)? ['"]?(?P<driver2>[\w.:-]+)?"#
);

re!(
    NODE_EXCERPT,
    r"^(?:/\S+:\d+|throw\b.*;|\S+\.(?:c|m)?js:\d+)$"
);

re!(SUBSCRIPT, r#"\[['"](?P<field>[\w.-]+)['"]\]"#);

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

// A value read from a configuration object in a line of code:
// `cfg["database"]`, `config.get('dsn')`, `settings.DATABASE_URL`.
re!(
    CONFIG_SUBSCRIPT,
    r#"\b(?:cfg|conf|config|configuration|settings|options)\s*(?:\[\s*["'](?P<key>[\w.-]+)["']\s*\]|\.get\(\s*["'](?P<got>[\w.-]+)["']|\.(?P<attribute>[A-Za-z_]\w*)\b)"#
);

// A program's own words that it cannot find something it was asked for.
re!(
    CANNOT_FIND,
    r"(?i)\b(?:could not|couldn't|cannot|can't|unable to|failed to) (?:find|locate|resolve)\b|\bnot found\b|\bno such\b"
);

// A quoted item of a message: `'db/postgres_primary'`.
re!(QUOTED_ITEM, r#"['"`](?P<item>[^'"`\s]+)['"`]"#);

// What a binding that is not there yet gives in Node.js.
re!(
    HALF_INITIALISED,
    r"\bof undefined\b|\bis not a function\b|\bis not a constructor\b|Class extends value undefined|\bis not iterable\b"
);

// A decoded field that did not convert: `"WORKER_CONCURRENCY": NaN,`.
re!(
    NOT_A_NUMBER_FIELD,
    r#"^\s*"?(?P<var>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"?\s*:\s*NaN\b"#
);

// A listener or client refusing a port value.
re!(
    BAD_PORT,
    r"(?i)ERR_SOCKET_BAD_PORT|\bport should be >= 0|\binvalid port\b|\bbad port\b|\bport out of range\b|\bport must be\b"
);

// A program's own words that an option of its command line is required.
re!(
    OPTION_REQUIRED,
    r"(?:^|[\s:])(?P<option>--?[A-Za-z][\w-]*) (?:is|are) (?:required|mandatory)\b|\bmissing required (?:option|argument|flag)s?:? (?P<missing>--?[\w-]+)"
);

// A setting's name as programs print it: `ARCHIVE_DAYS`, `PICK_WAVE`.
re!(SETTING_NAME, r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b");

re!(
    INVALID_SAID,
    r"(?i)\b(?:invalid|malformed|corrupt(?:ed)?|cannot parse|could not parse|failed to parse)\b|\bnon-base(?:32|64) digit\b|\bincorrect padding\b|\bnon-hexadecimal\b|\bodd-length string\b"
);

// A value that does not convert or is not among those allowed (Go's
// `strconv.Atoi: parsing "1k"`, Ruby's `invalid value for Integer()`, Java's
// `For input string: "x"`, `must be one of`).
re!(
    VALUE_REJECTED,
    r"(?i)\binvalid (?:value|syntax|literal|format|number|integer|input|duration|boolean|bool|level|choice|option|setting)\b|\bnot a valid\b|\b(?:cannot|can't|could not|couldn't|failed to|unable to) (?:be )?(?:parse|convert)|\bparsing [\x22'`]|For input string|\bmust be (?:a|an|one of|between|at least|at most|exactly|positive|greater|less)\b|\bis not one of\b|\bis (?:unknown|unsupported|not supported)\b|\bnot (?:allowed|supported|recogni[sz]ed)\b|\bunknown (?:value|option|choice|level|mode|format|unit|currency|locale|timezone|time zone|region|environment|driver|backend|strategy)\b|\bunrecogni[sz]ed\b|\bout of range\b|\bexpected (?:a |an )?(?:number|integer|int|float|boolean|bool|duration)\b"
);

// A program's own words that a path it names is not there
// (gunicorn's `Error: '/etc/app/gunicorn.conf.py' doesn't exist`).
re!(
    PATH_ABSENT,
    r"(?i)\b(?:does not|doesn't|did not|didn't) exist\b|\b(?:cannot|can't|could not|couldn't) be found\b|\bno such file\b|\bis missing\b|\bnot found\b"
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
    r"failed to run command [‘'`\x22](?P<program>[^’'`\x22]+)[’'`\x22]: No such file or directory|Cannot run program \x22(?P<program2>[^\x22]+)\x22(?: \(in directory [^)]*\))?: error=2\b"
);

// A validator's issue: `field: 'welcomeCredit'`, `path: [ 'db', 'port' ]`.
re!(
    ISSUE_FIELD,
    r#"^"?(?:field|path|property|key|instancePath|dataPath)"?:\s*\[?\s*["'](?P<field>[\w./\[\]-]+)["']"#
);
// apischema's issue: `{'loc': ['dock_count'], 'err': 'missing property'}`.
re!(ISSUE_LOC, r"'loc': \['(?P<field>[^']+)'");

// A JSON-schema validator's issue (ajv, typebox): where in the schema.
re!(
    SCHEMA_ISSUE,
    r#"^\s*"?(?:schemaPath|keyword|instancePath)"?\s*:"#
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
    LIMIT_REACHED,
    r"(?i)\blimit (?:reached|exceeded)\b|\bMDB_MAP_FULL\b"
);
re!(
    SOCKET_ABSENT,
    r"(?i)\bnot available\b|\bunusable\b|\bunavailable\b|\bdoes not exist\b"
);
re!(
    WRITE_FAILED,
    r"(?i)write failed\b|\bfailed to write\b|\b(?:cannot|could not|unable to) write\b|\bshort write\b|\bwrite error\b"
);
re!(
    LIMIT_NOT_OURS,
    r"(?i)\brate limit|memory|\bheap\b|\bquota\b"
);

re!(
    CHDIR_FAILED,
    r"(?i)\b(?:can't|cannot|could not|unable to|failed to) (?:chdir|change directory|cd) (?:to|into)\b"
);
re!(
    DATABASE_ABSENT,
    r#"(?i)\bdatabase ["'`]?(?P<name>[\w.-]+)["'`]? does not exist\b|\bUnknown database ['"`]?(?P<name2>[\w.-]+)"#
);
re!(
    FILE_LACKS_KEY,
    r#"(?i)(?P<file>[\w./-]+\.(?:json[5c]?|ya?ml|toml|ini|cfg|conf|env|properties)):? (?:is missing|lacks|has no|does not (?:have|define)) ["'`]?(?P<key>[\w.-]+)|(?P<file2>[\w./-]+\.(?:json[5c]?|ya?ml|toml|ini|cfg|conf|env|properties)):? ["'`](?P<key2>[\w.-]+)["'`] (?:is )?(?:not defined|undefined|missing|not set|required)"#
);
re!(
    UNABLE_TO_RUN,
    r"(?i)\bunable to (?:run|execute|launch|spawn|start) (?P<program>[\w.+-]+)\b[^\n]*\b(?:not (?:be )?(?:available|installed|found))"
);

re!(
    CONFIG_FILE,
    r"(?:/|\./)?[\w./-]+\.(?:json[5c]?|hjson|ya?ml|toml|ini|cfg|conf|env|hcl|xml|properties|hocon)\b|in JSON at position"
);

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
    // A plugin a setting asks for first (whatever the type says); a value
    // of the environment rejected where nothing else is known.
    let n = match values::plugin_missing(t, ctx)
        .or_else(|| values::pattern_rejected(t, ctx))
        .or_else(|| values::invalid_url(t))
        .or_else(|| values::version_mismatch(t))
        .or_else(|| name_by_structure(t, ctx, &kinds, &texts, &all))
    {
        Some(n) if n.id != "crashed" => n,
        other => values::value_rejected(t, ctx).or(other)?,
    };
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
        // Not the scaffolding of an inspected object (`_issueTree: {`,
        // `ok: false,`): a line that says something.
        .filter(|l| !object_scaffolding(l))
        // Nor the message again (`message: '…'` of the same error).
        .filter(|l| {
            l.split_once(": '")
                .is_none_or(|(_, v)| !quote.contains(v.trim_end_matches([',', '\''])))
        })
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

/// The text of capture group `a`, else of `b`: one pattern's two
/// alternatives (the `regex` crate refuses a group name used twice).
pub(super) fn either<'h>(c: &regex::Captures<'h>, a: &str, b: &str) -> &'h str {
    c.name(a).or_else(|| c.name(b)).map_or("", |m| m.as_str())
}

re!(LINE_OF_FILE, r"(?:\bline \d+|:\d+(?::\d+)?(?:\b|:))");

// The `which` package's `not found: ffprobe`; a program a wrapper says
// `exited with 127` (the shell's "command not found").
re!(
    NOT_ON_PATH,
    r"(?m)^(?:Error: )?not found: (?P<program>[\w.+-]+)$|\b(?P<program2>[\w.+-]+) exited with (?:status |code )?127\b"
);

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
    // `can't chdir to '/srv/app/current'` (gunicorn's `--chdir`) says it
    // without an errno, for a directory it was told to use.
    if CHDIR_FAILED.is_match(message)
        && let Some(dir) = data_path_in(message)
        && (ctx.dir.as_deref() == Some(dir.as_str())
            || crate::env_hints::paths(ctx).iter().any(|(_, p)| *p == dir))
    {
        return strongly_named(
            "workdir-missing",
            format!("the working directory {dir} does not exist"),
        );
    }
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
    if let Some(n) = files::not_an_archive(t, &all, ctx)
        .or_else(|| files::shared_library_missing(t, &all))
        .or_else(|| files::key_unreadable(t, &all, ctx))
    {
        return Some(n);
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
    let runtime_syntax = parsing::runtime_syntax(t, kinds);
    let own_code = parsing::own_syntax_error(t, kinds);
    if let Some(n) = parsing::data_does_not_parse(t, ctx, kinds, texts, &all) {
        return Some(n);
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
    if let Some(n) = node_cycle(t, kinds, message, ctx) {
        return Some(n);
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
        // PDO's `could not find driver` names none: the DSN that asks for it.
        let driver = if driver.is_empty() {
            crate::env_hints::variable_called(ctx, &["DSN", "URL"])
                .map_or_else(String::new, |v| format!("{driver} (asked for by {v})"))
        } else {
            driver.to_string()
        };
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
        // The HTTP status a JSON log line gave as a field (`"status":403`).
        let status = t
            .detail
            .iter()
            .find_map(|d| {
                d.strip_prefix("status: ")
                    .or_else(|| d.strip_prefix("statusCode: "))
            })
            .filter(|s| !t.quote().contains(*s))
            .map_or_else(String::new, |s| format!(" (HTTP {s})"));
        return named(
            "dependency-auth-failed",
            format!("{who} rejects the credentials{status}: {}", t.quote()),
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
        // Run as root, no directory is refused: the one it names is missing.
        if ctx.user.as_deref() == Some("root")
            && let Some(p) = &path
        {
            let by = crate::env_hints::paths(ctx)
                .into_iter()
                .find(|(_, v)| v == p)
                .map_or_else(String::new, |(n, _)| format!(" ({n})"));
            return named(
                "missing-config",
                format!(
                    "the SQLite database {p}{by} cannot be created: its directory does not exist ({})",
                    t.quote()
                ),
            );
        }
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
    // SIGXFSZ: a write past the file-size limit (`ulimit -f`) kills the
    // process (the shell says `File size limit exceeded`, status 153).
    if all.contains("File size limit exceeded")
        || ctx.exit.as_deref() == Some("signal SIGXFSZ")
        || ctx.exit.as_deref() == Some("code 153") && t.runtime == Runtime::Shell
    {
        let limit = memory::command_ulimit(ctx, &['f']).map_or_else(
            || "`ulimit -f`".to_string(),
            |u| format!("`{u}` in its command"),
        );
        return named(
            "resource-limit",
            format!(
                "a file grew past the file-size limit ({limit}; SIGXFSZ): {}",
                t.quote()
            ),
        );
    }
    // The server answers, but the database the setting names is not on it
    // (`FATAL: database "catalog" does not exist`, MySQL's 1049).
    if let Some(c) = DATABASE_ABSENT.captures(&all) {
        let db = either(&c, "name", "name2");
        let by = dependency_of(t, &all, ctx)
            .map(|(a, k)| format!(" on {}", describe(&a, k)))
            .unwrap_or_default();
        return named(
            "missing-config",
            format!(
                "the database `{db}` does not exist{by}: the setting names a database that was never created: {}",
                t.quote()
            ),
        );
    }
    // `config.json is missing "broker.topic"`, `./app.conf: 'sftp_user' not defined`.
    if let Some(c) = FILE_LACKS_KEY.captures(&all) {
        let file = either(&c, "file", "file2");
        let key = either(&c, "key", "key2");
        return named(
            "missing-config",
            format!("the configuration {file} lacks `{key}`: {}", t.quote()),
        );
    }
    // `Unable to run gpg (gpg2) - it may not be available`.
    if let Some(c) = NOT_ON_PATH.captures(&all) {
        return program_not_installed(either(&c, "program", "program2"), t);
    }
    if let Some(c) = UNABLE_TO_RUN.captures(&all) {
        return program_not_installed(&c["program"], t);
    }
    // No errno, but a write failed and backstop saw the filesystem of a
    // path the output names full (PHP's `gzwrite failed`).
    if found_errno.is_none()
        && WRITE_FAILED.is_match(&all)
        && let Some(path) = ctx
            .full
            .iter()
            .find(|p| t.before.iter().any(|l| l.contains(p.as_str())) || all.contains(p.as_str()))
    {
        return named(
            "disk-full",
            format!(
                "the filesystem of {path} has no space left (a write failed): {}",
                t.quote()
            ),
        );
    }
    // No errno, but its words say a socket's path is not there.
    if found_errno.is_none()
        && SOCKET_ABSENT.is_match(&all)
        && let Some(n) = by_errno::missing_socket(t, &all, ctx)
    {
        return Some(n);
    }
    // A size or count the program was configured with, reached (LMDB's
    // `MDB_MAP_FULL: Environment mapsize limit reached`): the variable
    // that sets it, when the output shows its value.
    if LIMIT_REACHED.is_match(&all) && !LIMIT_NOT_OURS.is_match(&all) {
        let shown: Vec<&str> = std::iter::once(all.as_str())
            .chain(t.before.iter().map(String::as_str))
            .collect();
        let by = crate::env_hints::variable_of_number(ctx, &shown)
            .or_else(|| crate::env_hints::variable_of_value(ctx, &shown))
            .map(|v| format!(" (set by {v})"))
            .unwrap_or_default();
        return named(
            "resource-limit",
            format!("a configured limit was reached{by}: {}", t.quote()),
        );
    }
    if is(MEMORY_TYPES)
        || MEMORY_EXHAUSTED.is_match(&all)
        || all.contains("heap out of memory")
        || all.to_ascii_lowercase().contains("out of memory")
        || all.contains("memory allocation of")
        || found_errno == Some(Errno::NoMemory)
    {
        return out_of_memory(t, &all, ctx);
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
    // A schema's verdict on a configuration file just loaded: by its
    // type's name, or by the issues it lists (`instancePath: '/pickWaveSize'`,
    // typebox's and ajv's shape, under an `AssertError`).
    let issues: Vec<&str> = t
        .detail
        .iter()
        .filter_map(|l| ISSUE_FIELD.captures(l.trim()))
        .filter_map(|c| c.name("field").map(|f| f.as_str().trim_start_matches('/')))
        .filter(|f| !f.is_empty())
        .collect();
    if (kinds.iter().any(|k| has_word(k, &["Validation", "Schema"]))
        || (!issues.is_empty() && t.detail.iter().any(|l| SCHEMA_ISSUE.is_match(l))))
        && let Some(file) = loaded_config(t)
    {
        let field = t
            .detail
            .iter()
            .rev()
            .find_map(|l| SUBSCRIPT.captures_iter(l).last())
            .map(|c| c["field"].to_string())
            .or_else(|| issues.first().map(|f| (*f).to_string()))
            .map_or_else(String::new, |f| format!(" (field `{f}`)"));
        return named(
            "missing-config",
            format!(
                "the configuration file {file} is not valid{field}: {}",
                t.quote()
            ),
        );
    }
    // A key looked up and not there (`KeyError: 'host'`, Ruby's `key not
    // found: "host"`) just after loading a configuration file: the file
    // lacks it. (On data of no file it is the program's bug.)
    if (is(&["KeyError", "NoOptionError", "NoSectionError"]) || message.starts_with("key not found"))
        && let Some(file) = loaded_config(t).filter(|f| !env_file_name(f))
        // An environment variable's name is read further down.
        && let Some(key) = message
            .split(['\'', '"'])
            .nth(1)
            .filter(|k| !k.is_empty() && k.chars().any(|c| c.is_ascii_lowercase()))
    {
        return named(
            "missing-config",
            format!("the configuration file {file} lacks `{key}`: {}", t.quote()),
        );
    }
    // A validator's verdict (vine's `ValidationError: Validation failure`
    // listing `field: 'welcomeCredit'`) in the code that loads the
    // settings, or on a field one of its variables holds: the settings.
    // (pydantic's `1 validation error for Settings` is read further down,
    // field by field.)
    if kinds.iter().any(|k| has_word(k, &["Validation", "Schema"]))
        && !message.contains("validation error")
    {
        let fields: Vec<&str> = t
            .detail
            .iter()
            .filter_map(|l| ISSUE_FIELD.captures(l))
            .filter_map(|c| c.name("field").map(|f| f.as_str()))
            // apischema's `[{'loc': ['dock_count'], 'err': …}]` in the message.
            .chain(
                ISSUE_LOC
                    .captures_iter(message)
                    .map(|c| c.get(1).map_or("", |m| m.as_str())),
            )
            .collect();
        let var = fields.iter().find_map(|f| {
            let leaf = f.rsplit(['.', '/']).next().unwrap_or(f);
            crate::env_hints::variable_for_field(ctx, leaf).map(|v| format!("{f} ({v})"))
        });
        // Fields of no variable, in a program given one data file
        // (`WMS_CONFIG=/etc/wms.json`): that file's fields.
        if var.is_none()
            && !fields.is_empty()
            && !settings_code(t)
            && let Some((name, path)) =
                crate::env_hints::data_file(ctx, &format!("{}\n{all}", t.stack.join("\n")))
                    .or_else(|| crate::env_hints::file_meant(ctx, &all))
        {
            return named(
                "missing-config",
                format!(
                    "the configuration file {path} ({name}) is not valid: {}: {}",
                    fields.join(", "),
                    t.quote()
                ),
            );
        }
        if var.is_some() || settings_code(t) {
            let what = var
                .or_else(|| fields.first().map(|f| (*f).to_string()))
                .map_or_else(String::new, |f| format!(": {f}"));
            let said = t
                .detail
                .iter()
                .find_map(|l| ISSUE_MESSAGE.captures(l).map(|c| c["said"].to_string()))
                .map_or_else(String::new, |s| format!(" ({s})"));
            return named(
                "missing-config",
                format!("the configuration is invalid{what}{said}: {}", t.quote()),
            );
        }
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
    // A schema over the environment that prints what it decoded
    // (`"WORKER_CONCURRENCY": NaN,`): the variable that is set and did not
    // convert.
    if let Some(var) = t.detail.iter().find_map(|d| {
        let c = NOT_A_NUMBER_FIELD.captures(d)?;
        let var = c["var"].to_string();
        ctx.env.iter().any(|(n, _)| *n == var).then_some(var)
    }) {
        return named(
            "missing-config",
            format!("the setting {var} is not a valid number: {}", t.quote()),
        );
    }
    // A port that is no number (Node's `ERR_SOCKET_BAD_PORT … Received
    // type number (NaN)`): the port variable whose value is not one.
    if BAD_PORT.is_match(&all)
        && let Some(var) = crate::env_hints::port_variable_not_a_number(ctx)
    {
        return named(
            "missing-config",
            format!("the setting {var} is not a port number: {}", t.quote()),
        );
    }
    // A value of its environment the program rejects (`invalid
    // QUOTA_LIMIT: strconv.Atoi: parsing "1k": invalid syntax`): that
    // setting is wrong, not the program.
    if (VALUE_REJECTED.is_match(message) || INVALID_SAID.is_match(message))
        && !texts.iter().any(|x| errno::find(x).is_some())
        && let Some(var) = crate::env_hints::variable_rejected(ctx, message).or_else(|| {
            // Or the value the program said it was using, just before a
            // library rejected it (`scheduling with "0 8 * * MON-FRI-SAT"`).
            // Or the variable it said it was reading (`loading signing key
            // from WEBHOOK_SIGNING_KEY`).
            t.before
                .iter()
                .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l) && !l.starts_with('/'))
                .take(2)
                .find_map(|l| crate::env_hints::only_variable_named(ctx, l))
        })
    {
        return named(
            "missing-config",
            format!("the setting {var} is invalid: {}", t.quote()),
        );
    }
    // The configuration selects something that is not there (Hydra's
    // `In 'config': Could not find 'db/postgres_primary'`, then the
    // options there are): the configuration is wrong, not the program.
    if CANNOT_FIND.is_match(message)
        && CONFIG_WORD.is_match(message)
        && !texts.iter().any(|x| errno::find(x).is_some())
        && !kinds.iter().any(|k| programming_type(k))
        && let Some(what) = QUOTED_ITEM.captures_iter(message).last()
    {
        return named(
            "missing-config",
            format!(
                "the configuration asks for `{}`, which does not exist: {}",
                &what["item"],
                t.quote()
            ),
        );
    }
    // A setting the environment does not hold, rejected in the program's
    // words (`ARCHIVE_DAYS must be a positive integer, got 'two weeks'`):
    // it is read from the one configuration file the service is given.
    if VALUE_REJECTED.is_match(message)
        && !texts.iter().any(|x| errno::find(x).is_some())
        && !kinds.iter().any(|k| programming_type(k))
        && let Some(setting) = SETTING_NAME.find(message)
        && !ctx.env.iter().any(|(n, _)| n == setting.as_str())
        && let Some((var, file)) = crate::env_hints::file_meant(ctx, message)
    {
        return named(
            "missing-config",
            format!(
                "the setting {} in {file} (from {var}) is invalid: {}",
                setting.as_str(),
                t.quote()
            ),
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
    // A value a library rejects (`The seed must be exactly 32 bytes long`)
    // that the program's own line read from its environment
    // (`SigningKey(os.environ["WEBHOOK_SIGNING_KEY"].encode())`): that variable.
    if (INVALID_SAID.is_match(message) || VALUE_REJECTED.is_match(message))
        && !texts.iter().any(|x| errno::find(x).is_some())
        && let Some(code) = own_code_line(t)
        && let Some(c) = CODE_ENV_READ.captures(code)
        && let Some(var) = c.name("var").or_else(|| c.name("v2"))
    {
        return named(
            "missing-config",
            format!("the setting {} is not valid: {}", var.as_str(), t.quote()),
        );
    }
    // A required command-line option the program says it lacks
    // (`import-cli: --tenant is required`, exit 64 EX_USAGE).
    if let Some(c) = OPTION_REQUIRED.captures(message) {
        return named(
            "missing-config",
            format!(
                "a required command-line option is missing: {}: {}",
                &c["option"],
                t.quote()
            ),
        );
    }
    // A value a library rejects (`invalid dsn: missing "=" after "N/A"`)
    // that the program's own line took from its configuration
    // (`psycopg2.connect(cfg["database"])`): that setting of the file the
    // service is given is wrong.
    if (INVALID_SAID.is_match(message) || VALUE_REJECTED.is_match(message))
        && !texts.iter().any(|x| errno::find(x).is_some())
        && let Some(code) = own_code_line(t)
        && let Some(key) = CONFIG_SUBSCRIPT.captures(code)
        && let Some((var, file)) = crate::env_hints::file_meant(ctx, code)
    {
        return named(
            "missing-config",
            format!(
                "the setting {} in {file} (from {var}) is not valid: {}",
                ["key", "got", "attribute"]
                    .iter()
                    .find_map(|g| key.name(g))
                    .map_or("", |m| m.as_str()),
                t.quote()
            ),
        );
    }
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
            .or_else(|| {
                // A configuration written in the program's language
                // (`agent.conf.rb`, `settings.py`): the frame in it.
                t.own_frame
                    .as_ref()
                    .filter(|_| settings_code(t))
                    .map(|f| format!("the configuration file {}:{} is not valid", f.file, f.line))
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
        // `cannot import name 'DSSKey' from 'paramiko'`: the installed
        // versions do not fit, whatever the library serves.
        && !any(&["ImportError"])
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
    // `KeyError: 'AT'` on a subscript of the program's own data
    // (`WAREHOUSES[order['ship_to']['country']]`), not of its environment
    // or its configuration: a bug in the program, whatever the key looks
    // like.
    if kinds.first() == Some(&"KeyError") && data_lookup(t) {
        return named("crashed", crashed_summary(t, ctx.exit.as_deref()));
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
            // Or a field of its JSON log line (`"file":"/etc/gw.jsonc"`).
            .find_iter(message)
            .chain(t.detail.iter().flat_map(|d| CONFIG_FILE.find_iter(d)))
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
    // The program's own words: a path it was given is not there. Not
    // the program itself (a positional argument of its command), and not
    // a module or a program it runs (named above).
    if PATH_ABSENT.is_match(message)
        && !texts.iter().any(|x| errno::find(x).is_some_and(|e| e != Errno::NoEntry))
        && !kinds.iter().any(|k| programming_type(k))
        // Not an HTTP answer about a resource (`404 Not Found: /v1/rates`).
        && !message.contains("404")
        && !message.contains("HTTP")
        // A file's path, not a route (`/healthz`); for the loose `not
        // found`, one with an extension.
        && let Some(path) = path_in(message).filter(|p| {
            p.starts_with('/')
                && p[1..].contains('/')
                && (!message.to_ascii_lowercase().contains("not found")
                    || std::path::Path::new(p).extension().is_some())
        })
    {
        let launched = ctx
            .command
            .iter()
            .enumerate()
            .any(|(i, a)| *a == path && (i == 0 || !ctx.command[i - 1].starts_with('-')));
        if launched {
            return named(
                "command-not-found",
                format!("the program {path} does not exist: {}", t.quote()),
            );
        }
        return missing_file(&path, ctx);
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

static MARKED_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^\d+> \S").expect("UNWRAP: a constant pattern")
});

/// Whether a Python `KeyError` was raised by a subscript in the program's
/// own code (its last frame is the program's own) that reads no
/// environment or configuration (`os.environ[…]`, `settings[…]`).
fn data_lookup(t: &TerminalError) -> bool {
    let (Some(f), Some(last)) = (
        t.own_frame.as_ref(),
        t.stack
            .iter()
            .rfind(|l| l.trim_start().starts_with("File \"")),
    ) else {
        return false;
    };
    let Some(code) = own_code_line(t) else {
        return false;
    };
    let lower = code.to_ascii_lowercase();
    last.contains(&f.file)
        && last.contains(&format!("line {}", f.line))
        && code.contains('[')
        && ![
            "environ", "getenv", "env[", "env.", "config", "conf[", "settings", "secrets",
            "options", "params", "vars", "args",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// The line of code of the program's own frame, as a Python traceback
/// shows it under `File "…", line N`.
fn own_code_line(t: &TerminalError) -> Option<&str> {
    let f = t.own_frame.as_ref()?;
    let header = format!("line {}", f.line);
    let at = t
        .stack
        .iter()
        .position(|l| l.contains(&f.file) && l.contains(&header))?;
    t.stack[at + 1..]
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty() && !l.chars().all(|c| "^~ ".contains(c)))
        .filter(|l| !l.starts_with("File \""))
}

/// A Node.js import cycle, which Node reports as no error of its own: a
/// module reads a binding of one still initialising. CommonJS gives it
/// `undefined` (`Cannot read properties of undefined (reading 'map')` in
/// plans.js, required from reminders.js's top level); ESM's temporal dead
/// zone throws `Cannot access 'settings' before initialization` at the top
/// level of a module the entry script imported (in the entry script
/// itself, a `const` used before its line, it is the program's bug).
fn node_cycle(t: &TerminalError, kinds: &[&str], message: &str, ctx: &Context) -> Option<Named> {
    if t.runtime != Runtime::Node {
        return None;
    }
    let failed = t.place.as_deref().unwrap_or("its top level");
    let kind = kinds.first().copied().unwrap_or("");
    if kind == "TypeError"
        && HALF_INITIALISED.is_match(message)
        && let Some(by) = t.loaded_by.as_deref()
    {
        return named(
            "import-cycle",
            format!(
                "a circular require: {failed} uses a binding that is still undefined while {by} requires it (a module of the cycle is still initialising): {}",
                t.quote()
            ),
        );
    }
    let at_top_level = t.own_frame.as_ref().filter(|f| f.function.is_none())?;
    let entry = memory::command_script(ctx)?;
    let entry = entry.rsplit('/').next().unwrap_or(&entry);
    let imported = !at_top_level.file.ends_with(&format!("/{entry}")) && at_top_level.file != entry;
    (kind == "ReferenceError" && message.contains("before initialization") && imported)
        .then(|| {
            named(
                "import-cycle",
                format!(
                    "a circular import: {failed} reads a binding of a module that is still initialising: {}",
                    t.quote()
                ),
            )
        })
        .flatten()
}
