//! Exception types by family: which words of a type name mean "cannot reach
//! it", "bad configuration", "not there", "does not parse", "a bug in the
//! program".

/// The short name of an exception type: `psycopg.OperationalError` →
/// `OperationalError`, `Errno::ECONNREFUSED` → `ECONNREFUSED`.
pub(super) fn short(kind: &str) -> &str {
    kind.rsplit(['.', ':', '$', '\\']).next().unwrap_or(kind)
}

/// The words of a type name: `AMQPConnectorStackTimeout` → `AMQP`,
/// `Connector`, `Stack`, `Timeout`.
pub(super) fn type_words(kind: &str) -> Vec<&str> {
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
pub(super) fn unreachable_type(kind: &str) -> bool {
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
pub(super) fn has_word(kind: &str, words: &[&str]) -> bool {
    type_words(kind)
        .iter()
        .any(|w| words.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// A type whose name says a configuration is wrong: `…Config…Error`,
/// `…Settings…` (not Python's `EnvironmentError`, an alias of `OSError`).
pub(super) fn config_type(kind: &str) -> bool {
    CONFIG_TYPES.contains(&kind)
        || has_word(kind, &["Config", "Configuration", "Settings", "Setting"])
}

/// A type whose name says a value is absent: `UndefinedValueError`,
/// `MissingSecret`, `RequiredSettingUnset`.
pub(super) fn absent_type(kind: &str) -> bool {
    has_word(kind, &["Undefined", "Missing", "Unset", "Required"])
}

/// A parser's error: the input does not parse (`ScannerError`,
/// `JSONDecodeError`, `TOMLDecodeError`, `ParserError`).
pub(super) fn parse_type(kind: &str) -> bool {
    has_word(
        kind,
        &[
            "YAML", "Yaml", "JSON", "Json", "JSON5", "Json5", "TOML", "Toml", "INI", "Ini", "HCL",
            "Hcl", "Hjson",
        ],
    ) && has_word(
        kind,
        &["Exception", "Error", "Illegal", "Unexpected", "Invalid"],
    ) || has_word(
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
pub(super) fn programming_type(kind: &str) -> bool {
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

pub(super) const MODULE_TYPES: &[&str] = &[
    "ModuleNotFoundError",
    "LoadError",
    "NoClassDefFoundError",
    "ClassNotFoundException",
];

pub(super) const SYNTAX_TYPES: &[&str] =
    &["SyntaxError", "IndentationError", "TabError", "ParseError"];

pub(super) const MEMORY_TYPES: &[&str] = &["MemoryError", "OutOfMemoryError"];

/// Exceptions of database, cache, queue and HTTP clients that mean "cannot
/// reach it", with or without an errno in the message.
pub(super) const UNREACHABLE_TYPES: &[&str] = &[
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

pub(super) const CONFIG_TYPES: &[&str] = &[
    "ImproperlyConfigured",
    "ConfigError",
    "ConfigurationError",
    "ConfigException",
    "SettingsError",
    "MissingEnvironmentVariable",
    "EnvError",
];

pub(super) const FILE_TYPES: &[&str] = &[
    "FileNotFoundError",
    "NoSuchFileException",
    "FileNotFoundException",
    "ENOENT",
];
