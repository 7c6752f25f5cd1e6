//! Classification of terminal errors, one shape at a time.

use super::*;
use crate::env_hints::tests::ctx as env;
use crate::terminal;
use types::parse_type;

/// `text` named `cause`, its summary naming each of `specifics`.
fn named_as(text: &str, ctx: &Context, cause: &str, specifics: &[&str]) -> Named {
    names(id(text, ctx), text, cause, specifics)
}

/// `n`, the verdict on `text`, is `cause` and its summary names each of
/// `specifics`.
fn names(n: Option<Named>, text: &str, cause: &str, specifics: &[&str]) -> Named {
    let n = n.unwrap_or_else(|| panic!("no cause named for {text}"));
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
        known: vec![Known::parse("LEDGER_DB", "postgresql://app@127.0.0.1:5432/ledger").unwrap()],
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
        n.summary
            .starts_with("AMQP_URL at amqp://localhost:5672 (127.0.0.1:5672) refuses connections"),
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
    // Java's ProcessBuilder and Ruby's spawn say it their way; a Ruby file
    // operation says where (`@ rb_sysopen`), a spawn does not.
    named_as(
        "Exception in thread \"main\" java.io.IOException: Cannot run program \"ffmpeg\": error=2, No such file or directory
\tat java.base/java.lang.ProcessBuilder.start(ProcessBuilder.java:1143)
\tat Transcoder.main(Transcoder.java:11)
Caused by: java.io.IOException: error=2, No such file or directory
\tat java.base/java.lang.ProcessImpl.forkAndExec(Native Method)",
        &Context::default(),
        "command-not-found",
        &["`ffmpeg`"],
    );
    named_as(
        "/usr/lib/ruby/3.1.0/open3.rb:222:in `spawn': No such file or directory - zint (Errno::ENOENT)
\tfrom print.rb:4:in `render_label'",
        &Context::default(),
        "command-not-found",
        &["`zint`"],
    );
}

#[test]
fn a_library_that_refuses_a_value_names_the_variable_holding_it() {
    // By the kind of value: a CIDR list names its bad item.
    named_as(
        "/usr/lib/ruby/3.1.0/ipaddr.rb:548:in `mask!': invalid length: 167772160 (IPAddr::InvalidPrefixError)
\tfrom acl.rb:3:in `<main>'",
        &env(&[("ADMIN_ALLOWED_CIDRS", "192.168.0.0/24,10.0.0.0/33"), ("PORT", "8080")]),
        "missing-config",
        &["ADMIN_ALLOWED_CIDRS (10.0.0.0/33)"],
    );
    // By the parameter a PHP function names.
    named_as(
        "PHP Fatal error:  Uncaught ValueError: hash_hmac(): Argument #1 ($algo) must be a valid cryptographic hashing algorithm in /srv/hook/verify.php:4
Stack trace:
#0 /srv/hook/verify.php(4): hash_hmac()
#1 {main}",
        &env(&[("WEBHOOK_HMAC_ALGO", "sha265"), ("WEBHOOK_SECRET", "s3cr3t-value")]),
        "missing-config",
        &["WEBHOOK_HMAC_ALGO (sha265)"],
    );
    // An empty value, when the error says so.
    named_as(
        "/srv/app/node_modules/ms/index.js:34
  throw new Error(
  ^

Error: val is not a non-empty string or a valid number. val=\"\"
    at module.exports (/srv/app/node_modules/ms/index.js:34:9)
    at Object.<anonymous> (/srv/app/index.js:2:13)",
        &env(&[("SESSION_TTL", ""), ("SESSION_COOKIE", "sid")]),
        "missing-config",
        &["SESSION_TTL"],
    );
    // Quoted by the program just before a package refused a word of it.
    named_as(
        "digest: schedule \"0 8 * * mon-fry\"
/srv/app/node_modules/cron-parser/dist/CronExpressionParser.js:159
                    throw new Error(`cannot resolve alias \"${match}\"`);
                    ^

Error: Validation error, cannot resolve alias \"fry\"
    at CronExpressionParser.parse (/srv/app/node_modules/cron-parser/dist/CronExpressionParser.js:100:59)
    at Object.<anonymous> (/srv/app/index.js:4:33)",
        &env(&[("DIGEST_CRON", "0 8 * * mon-fry"), ("DIGEST_TO", "ops@example.com")]),
        "missing-config",
        &["DIGEST_CRON"],
    );
    // A secret's value is never shown.
    let n = named_as(
        "Traceback (most recent call last):
  File \"/srv/boot.py\", line 5, in verify_admin
    return bcrypt.checkpw(password.encode(), stored)
ValueError: Invalid salt",
        &env(&[
            ("ADMIN_PASSWORD_HASH", "$2b$12$truncated"),
            ("ADMIN_EMAIL", "a@b.c"),
        ]),
        "missing-config",
        &["ADMIN_PASSWORD_HASH"],
    );
    assert!(!n.summary.contains("truncated"), "{}", n.summary);
}

#[test]
fn a_key_that_does_not_read_and_a_library_not_installed() {
    let ctx = Context {
        dir: Some("/srv/issuer".into()),
        ..env(&[("JWT_PRIVATE_KEY_PATH", "keys/signing.pem")])
    };
    named_as(
        "/usr/lib/ruby/3.1.0/openssl/pkey.rb:356:in `initialize': Neither PUB key nor PRIV key: unsupported (OpenSSL::PKey::RSAError)
\tfrom keys.rb:5:in `<main>'",
        &ctx,
        "missing-config",
        &["/srv/issuer/keys/signing.pem", "cannot be read"],
    );
    named_as(
        "PHP Fatal error:  Uncaught FFI\\Exception: Failed loading 'libvips.so.42' in /srv/thumbs.php:4
Stack trace:
#0 /srv/thumbs.php(4): FFI::cdef()
#1 {main}",
        &env(&[("VIPS_LIBRARY", "libvips.so.42")]),
        "missing-module",
        &["`libvips.so.42`"],
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
    named_as(
        "Traceback (most recent call last):
  File \"/app/scheduler.py\", line 4, in <module>
    zone = ZoneInfo(os.environ[\"REPORT_TIMEZONE\"])
zoneinfo._common.ZoneInfoNotFoundError: 'unknown time zone \"Europe/Berln\"'",
        &env(&[
            ("REPORT_TIMEZONE", "Europe/Berln"),
            ("REPORT_DIR", "/srv/reports"),
        ]),
        "missing-config",
        &["REPORT_TIMEZONE"],
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

#[test]
fn an_inspected_object_s_scaffolding_is_not_listed() {
    for l in [
        "_issueTree: {",
        "ok: false,",
        "errors: [",
        "errno: -2,",
        "refinement: undefined,",
    ] {
        assert!(object_scaffolding(l), "{l}");
    }
    for l in [
        "lineNumber: 5,",
        "path: '/etc/app.json'",
        "4 |     max_stops: 40",
        "key: 'rollout',",
    ] {
        assert!(!object_scaffolding(l), "{l}");
    }
}

/// The last-words reading of `lines` (no error of a known shape), named.
fn by_last_words(lines: &[&str], ctx: &Context) -> Option<Named> {
    terminal::last_words_all(lines)
        .iter()
        .find_map(|t| classify(t, ctx))
}

#[test]
fn a_crash_names_the_program_s_own_function_even_when_a_library_raised_it() {
    let python = "Traceback (most recent call last):
  File \"/srv/billing/close_period.py\", line 23, in main
    logging.info(\"draft: %s\", draft_total(items))
  File \"/srv/billing/close_period.py\", line 12, in draft_total
    return net + net * TAX_RATE
TypeError: unsupported operand type(s) for *: 'decimal.Decimal' and 'float'";
    let lines: Vec<&str> = python.lines().collect();
    let t = terminal::find(&lines).pop().expect("a traceback");
    assert!(
        crashed_summary(&t, Some("code 1"))
            .ends_with("(in draft_total, /srv/billing/close_period.py, line 12)"),
        "{}",
        crashed_summary(&t, Some("code 1"))
    );
    let node = "/app/node_modules/tiny-invariant/dist/tiny-invariant.cjs.js:14
    throw new Error(value);
    ^

Error: Invariant failed: no invoice number series for DE
    at invariant (/app/node_modules/tiny-invariant/dist/tiny-invariant.cjs.js:14:11)
    at allocate (/app/allocate.js:7:3)
    at Object.<anonymous> (/app/allocate.js:10:52)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)";
    let lines: Vec<&str> = node.lines().collect();
    let t = terminal::find(&lines).pop().expect("a Node.js error");
    let summary = crashed_summary(&t, Some("code 1"));
    assert!(
        summary.ends_with("from in allocate, /app/allocate.js:7)"),
        "{summary}"
    );
    // Ruby shows a core method (`fetch`) at its caller's line; the next
    // frame, at the same line, is the program's.
    let ruby = "worker.rb:8:in `fetch': key not found: \"relay\" (KeyError)
\tfrom worker.rb:8:in `deliver'
\tfrom worker.rb:20:in `<main>'";
    let lines: Vec<&str> = ruby.lines().collect();
    let t = terminal::find(&lines).pop().expect("a Ruby error");
    let f = t.own_frame.expect("the program's frame");
    assert_eq!((f.function.as_deref(), f.line), (Some("deliver"), 8));
}

#[test]
fn a_key_missing_from_a_configuration_file_just_loaded_is_that_file() {
    // Its stdout, piped, is flushed at exit: the `loading` line comes last.
    named_as(
        "mail_worker.rb:8:in `fetch': key not found: \"host\" (KeyError)
\tfrom mail_worker.rb:8:in `<main>'
mail-worker: loading config/mailer.yml [production]",
        &Context::default(),
        "missing-config",
        &["config/mailer.yml", "`host`"],
    );
    // The same error on data of no file is the program's bug.
    let n = id(
        "Traceback (most recent call last):
  File \"/app/settle.py\", line 7, in <module>
    fee = line[\"fee\"]
KeyError: 'fee'",
        &Context::default(),
    );
    assert!(n.as_ref().is_none_or(|n| n.id != "missing-config"), "{n:?}");
}

#[test]
fn a_path_the_program_says_does_not_exist_is_missing() {
    let gunicorn = Context {
        command: ["gunicorn", "-c", "/etc/relay/gunicorn.conf.py", "app:app"]
            .map(String::from)
            .to_vec(),
        ..Context::default()
    };
    let n = by_last_words(
        &["", "Error: '/etc/relay/gunicorn.conf.py' doesn't exist"],
        &gunicorn,
    )
    .expect("named");
    assert_eq!(n.id, "missing-config", "{}", n.summary);
    assert!(
        n.summary.contains("/etc/relay/gunicorn.conf.py (-c)"),
        "{}",
        n.summary
    );
    // A route is not a file.
    for line in [
        "route /healthz not found",
        "error: /api/v1/users/42 not found",
        "HTTP 404 Not Found: /v1/rates/EUR.json",
    ] {
        let n = by_last_words(&[line], &Context::default());
        assert!(
            n.as_ref().is_none_or(|n| n.id != "missing-config"),
            "{line}: {n:?}"
        );
    }
}

#[test]
fn a_validator_s_field_is_named_with_the_variable_it_is_read_from() {
    named_as(
        "ValidationError: Validation failure
    at SimpleErrorReporter.createError (file:///app/node_modules/@vinejs/vine/build/index.js:923:10)
    at loadConfig (file:///app/config.mjs:9:15) {
  status: 422,
  code: 'E_VALIDATION_ERROR',
  messages: [
    {
      message: 'The welcomeCredit field must be a number',
      rule: 'number',
      field: 'welcomeCredit'
    }
  ]
}",
        &env(&[("SIGNUP_WELCOME_CREDIT", "5,00"), ("SIGNUP_PORT", "8080")]),
        "missing-config",
        &["welcomeCredit (SIGNUP_WELCOME_CREDIT)", "must be a number"],
    );
    named_as(
        "Traceback (most recent call last):
  File \"/app/settings.py\", line 12, in <module>
    settings = Settings()
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
worker_concurrency
  Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='ten', input_type=str]",
        &env(&[("PAYOUTS_WORKER_CONCURRENCY", "ten"), ("PAYOUTS_DB_URL", "postgresql://db/payouts")]),
        "missing-config",
        &["worker_concurrency (PAYOUTS_WORKER_CONCURRENCY)"],
    );
}

#[test]
fn a_dependency_that_does_not_answer_is_read_among_later_progress_lines() {
    let n = by_last_words(
        &[
            "tax-lookup: no answer from 127.0.0.1:61900 within 10s",
            "tax-lookup: querying 127.0.0.1:61900",
        ],
        &Context {
            known: vec![Known::parse("TAX_SERVICE_ADDR", "127.0.0.1:61900").unwrap()],
            ..Context::default()
        },
    )
    .expect("named");
    assert_eq!(n.id, "dependency-unavailable", "{}", n.summary);
    assert!(n.summary.contains("TAX_SERVICE_ADDR"), "{}", n.summary);
}

#[test]
fn the_address_a_progress_line_flushed_after_the_error_names_is_the_dependency() {
    let ctx = Context {
        known: vec![
            Known::parse("CACHE_URL", "redis://127.0.0.1:6380/0").unwrap(),
            Known::parse("SESSIONS_URL", "redis://127.0.0.1:6379/1").unwrap(),
        ],
        ..Context::default()
    };
    named_as(
        "ReplyError: WRONGPASS invalid username-password pair or user is disabled.
    at parseError (/app/node_modules/redis-parser/lib/parser.js:179:12)
    at parseType (/app/node_modules/redis-parser/lib/parser.js:302:14)
worker: connecting to 127.0.0.1:6379",
        &ctx,
        "dependency-auth-failed",
        &["SESSIONS_URL"],
    );
}

/// `text` named `cause` by its last words, its summary naming each of
/// `specifics` (as [`named_as`] for errors of a known shape).
fn named_by_last_words(text: &str, ctx: &Context, cause: &str, specifics: &[&str]) -> Named {
    names(last_words_of(text, ctx), text, cause, specifics)
}

/// [`by_last_words`] of a text.
fn last_words_of(text: &str, ctx: &Context) -> Option<Named> {
    let lines: Vec<&str> = text.lines().collect();
    by_last_words(&lines, ctx)
}

#[test]
fn a_node_module_failing_on_an_undefined_binding_while_required_is_a_cycle() {
    let text = "/srv/app/cyc/plans.js:4
const ACTIVE_PLANS = new Set(subs.map((s) => s.plan));
                                  ^

TypeError: Cannot read properties of undefined (reading 'map')
    at Object.<anonymous> (/srv/app/cyc/plans.js:4:35)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)
    at Module.require (node:internal/modules/cjs/loader:1289:19)
    at require (node:internal/modules/helpers:182:18)
    at Object.<anonymous> (/srv/app/cyc/reminders.js:1:25)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)";
    named_as(
        text,
        &Context::default(),
        "import-cycle",
        &["plans.js:4", "reminders.js:1"],
    );
    // The same error in a function a request called is a bug.
    let in_a_handler = "TypeError: Cannot read properties of undefined (reading 'map')
    at listPlans (/srv/app/plans.js:9:20)
    at Object.<anonymous> (/srv/app/main.js:3:1)";
    assert_ne!(
        id(in_a_handler, &Context::default()).map(|n| n.id),
        Some("import-cycle")
    );
}

#[test]
fn a_key_error_on_the_program_own_data_is_a_bug_not_a_setting() {
    let lookup = |code: &str| {
        format!(
            "Traceback (most recent call last):
  File \"/srv/app/order_events.py\", line 8, in reserve_stock
    {code}
KeyError: 'AT'"
        )
    };
    named_as(
        &lookup("print(WAREHOUSES[order['ship_to']['country']])"),
        &Context::default(),
        "crashed",
        &["reserve_stock", "order_events.py"],
    );
    named_as(
        &lookup("REGION_CODE = os.environ['REGION_CODE']").replace("'AT'", "'REGION_CODE'"),
        &Context::default(),
        "missing-config",
        &["REGION_CODE"],
    );
}

#[test]
fn a_value_a_library_rejects_read_from_the_config_names_the_file() {
    let ctx = env(&[("REFUND_CONFIG", "/srv/refunds/config.yml")]);
    named_as(
        "Traceback (most recent call last):
  File \"/srv/refunds/auto_refund.py\", line 7, in <module>
    conn = psycopg2.connect(cfg[\"database\"], connect_timeout=5)
  File \"/venv/lib/python3.11/site-packages/psycopg2/__init__.py\", line 121, in connect
    dsn = _ext.make_dsn(dsn, **kwargs)
psycopg2.ProgrammingError: invalid dsn: missing \"=\" after \"N/A\" in connection info string",
        &ctx,
        "missing-config",
        &["database", "/srv/refunds/config.yml", "REFUND_CONFIG"],
    );
}

#[test]
fn schema_verdicts_of_namespaced_and_listed_shapes_name_the_file_validated() {
    named_as(
        "onboarding: validating /etc/app/tenant.json
PHP Fatal error:  Uncaught Nette\\Schema\\ValidationException: The item 'plan' expects to be 'starter'|'team', 'enterprise' given. in /usr/share/php/Nette/Schema/Processor.php:94
Stack trace:
#0 /usr/share/php/Nette/Schema/Processor.php(49): Nette\\Schema\\Processor->throwsErrors()
#1 /srv/app/tenant_cfg.php(15): Nette\\Schema\\Processor->process()
#2 {main}
  thrown in /usr/share/php/Nette/Schema/Processor.php on line 94",
        &Context::default(),
        "missing-config",
        &["/etc/app/tenant.json"],
    );
    named_as(
        "fulfil-worker: validating /etc/app/fulfil.json
AssertError: Assert
    at Module.Assert (file:///srv/node_modules/typebox/build/value/assert/assert.mjs:27:15)
    at Object.<anonymous> (/srv/app/fulfil_cfg.js:14:7) {
  [cause]: {
    source: 'Assert',
    errors: [
      {
        keyword: 'type',
        schemaPath: '#/properties/pickWaveSize',
        instancePath: '/pickWaveSize',
        message: 'must be integer'
      }
    ]
  }
}",
        &Context::default(),
        "missing-config",
        &["/etc/app/fulfil.json", "pickWaveSize"],
    );
}

#[test]
fn a_program_own_last_words_name_the_setting_the_dependency_and_the_file() {
    // A setting the environment does not hold: the one file it is given.
    named_by_last_words(
        "supplier-feed: ARCHIVE_DAYS must be a positive integer, got 'two weeks'",
        &env(&[("SUPPLIER_FEED_CONF", "/etc/supplier-feed.conf")]),
        "missing-config",
        &["ARCHIVE_DAYS in /etc/supplier-feed.conf"],
    );
    // A vague last word after the parser's own line: that line is quoted.
    named_by_last_words(
        "target_tabel: no such variable at tuner.conf line 3\ncron-tuner: failed to parse config",
        &env(&[("TUNER_CONF", "tuner.conf")]),
        "missing-config",
        &[
            "tuner.conf",
            "target_tabel: no such variable at tuner.conf line 3",
        ],
    );
    // Perl's `die` exits with `$!`: 111 is ECONNREFUSED, and the line that
    // says what failed is before a progress line flushed at exit.
    let ctx = Context {
        known: vec![Known::parse("BADGE_MEMCACHED", "127.0.0.1:62443").unwrap()],
        exit: Some("code 111".into()),
        ..Context::default()
    };
    let refused = "badges: could not store badge for SKU-1 in memcached (127.0.0.1:62443)
badges: refreshing badges via memcached 127.0.0.1:62443";
    let lines: Vec<&str> = refused.lines().collect();
    let n = terminal::last_words_all(&lines)
        .into_iter()
        .map(|mut t| {
            t.runtime = Runtime::Perl;
            t
        })
        .find_map(|t| classify(&t, &ctx))
        .expect("named");
    assert_eq!(n.id, "dependency-unavailable", "{}", n.summary);
    // IO::Socket::INET's `Bad hostname` is a name that does not resolve,
    // not an invalid setting.
    let relay = [
        ("RELAY_API_HOST", "relay-api.mail.invalid"),
        ("RELAY_API_PORT", "8025"),
    ];
    let ctx = Context {
        known: Known::from_env(relay.iter().copied()),
        ..env(&relay)
    };
    named_by_last_words(
        "bounce-proc: connect to relay-api.mail.invalid:8025 failed: IO::Socket::INET: Bad hostname 'relay-api.mail.invalid'",
        &ctx,
        "dependency-unavailable",
        &[],
    );
    // Hydra: the configuration selects an option that is not there; its
    // hint about HYDRA_FULL_ERROR is not the error.
    named_by_last_words(
        "In 'config': Could not find 'db/postgres_primary'

Available options in 'db':
\tpostgres_replica

Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
        &Context::default(),
        "missing-config",
        &["db/postgres_primary"],
    );
}

#[test]
fn out_of_memory_names_the_script_and_the_heap_limit() {
    let ctx = Context {
        command: vec!["node".into(), "cluster.js".into()],
        env: vec![("NODE_OPTIONS".into(), "--max-old-space-size=192".into())],
        ..Context::default()
    };
    named_by_last_words(
        "FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
        &ctx,
        "out-of-memory",
        &[
            "in cluster.js",
            "--max-old-space-size=192 from NODE_OPTIONS",
        ],
    );
}

#[test]
fn a_port_in_use_and_rejected_credentials_name_the_variables_to_change() {
    let ctx = env(&[("LISTEN_ADDR", "127.0.0.1:63405")]);
    named_by_last_words(
        "2026/12/04 13:51:43 listen tcp 127.0.0.1:63405: bind: address already in use",
        &ctx,
        "port-in-use",
        &["set by LISTEN_ADDR"],
    );
    // A 403 in a JSON log line's fields is a rejection, of the API the
    // environment declares.
    let crm = [
        ("CRM_API_URL", "http://127.0.0.1:63325"),
        ("CRM_API_KEY", "***"),
    ];
    let ctx = Context {
        known: Known::from_env(crm.iter().copied()),
        ..env(&crm)
    };
    named_by_last_words(
        r#"{"level":"error","msg":"crm request failed","status":403,"body":"{\"error\":\"forbidden\"}"}"#,
        &ctx,
        "dependency-auth-failed",
        &["CRM_API_URL"],
    );
}

#[test]
fn limits_a_command_line_sets_are_named() {
    let ctx = Context {
        command: vec![
            "sh".into(),
            "-c".into(),
            "'ulimit -n 64; exec python tiles.py'".into(),
        ],
        ..Context::default()
    };
    named_by_last_words(
        "OSError: [Errno 24] Too many open files: '/tmp/tiles/shard-19.mbt'",
        &ctx,
        "resource-limit",
        &["`ulimit -n 64` in its command"],
    );
    let ctx = Context {
        command: vec![
            "sh".into(),
            "-c".into(),
            "'ulimit -f 2048; exec ./t.sh'".into(),
        ],
        exit: Some("code 153".into()),
        ..Context::default()
    };
    named_by_last_words(
        "./t.sh: line 6: 16303 File size limit exceeded head -c 4000000 /dev/zero > \"$OUT\"",
        &ctx,
        "resource-limit",
        &["ulimit -f 2048"],
    );
}

#[test]
fn the_last_words_of_tools_and_launchers_say_disk_dependency_and_directory() {
    // Go's resolver: the name looked up, not the DNS server asked.
    let nats = [("NATS_ADDR", "nats.orders.invalid:4222")];
    let ctx = Context {
        known: Known::from_env(nats.iter().copied()),
        ..env(&nats)
    };
    let n = named_by_last_words(
        "dial tcp: lookup nats.orders.invalid on 10.255.255.53:53: no such host",
        &ctx,
        "dependency-unavailable",
        &["NATS_ADDR"],
    );
    assert!(
        n.summary
            .starts_with("NATS_ADDR at nats.orders.invalid:4222 does not resolve"),
        "{}",
        n.summary
    );
    // tar's short write is a full disk, under the directory variable.
    named_by_last_words(
        "archiving /var/log/app into /archive/logs.tar
tar: /archive/logs.tar: Wrote only 4096 of 10240 bytes
tar: Error is not recoverable: exiting now
archive failed (tar exit 2)",
        &env(&[("ARCHIVE_DIR", "/archive")]),
        "disk-full",
        &["ARCHIVE_DIR"],
    );
    // A peer that took the connection and never acknowledged.
    let printer = [("PRINTER_ADDR", "127.0.0.1:63303")];
    let ctx = Context {
        known: Known::from_env(printer.iter().copied()),
        ..env(&printer)
    };
    named_by_last_words(
        "label-printer: connected to 127.0.0.1:63303, sending job 8812
label-printer: no ack from printer within 3000ms, job 8812 not printed",
        &ctx,
        "dependency-unavailable",
        &["PRINTER_ADDR"],
    );
    // `env -C DIR` cannot change to the release directory.
    named_by_last_words(
        "env: cannot change directory to '/srv/reports/current': No such file or directory",
        &Context::default(),
        "workdir-missing",
        &[],
    );
}

#[test]
fn json_parse_names_the_file_its_variable_points_at() {
    named_as(
        "SyntaxError: Expected double-quoted property name in JSON at position 59
    at JSON.parse (<anonymous>)
    at Object.<anonymous> (/srv/mailer/mailer.js:3:18)",
        &env(&[("MAILER_CONFIG", "/etc/mailer/mailer.json")]),
        "missing-config",
        &["/etc/mailer/mailer.json"],
    );
}

#[test]
fn a_rejected_value_is_traced_to_its_variable_or_its_file() {
    // A port variable that is no number.
    named_by_last_words(
        "RangeError [ERR_SOCKET_BAD_PORT]: options.port should be >= 0 and < 65536. Received type number (NaN).",
        &env(&[("STATUS_PORT", "http"), ("DB_PORT", "5432")]),
        "missing-config",
        &["STATUS_PORT is not a port number"],
    );
    // A scheme the library does not know, quoted from one variable.
    named_as(
        "Traceback (most recent call last):
  File \"/srv/kyc/settings_check.py\", line 3, in <module>
    DATABASES = {\"default\": dj_database_url.config()}
dj_database_url.UnknownSchemeError: Scheme 'postgress://' is unknown.",
        &env(&[("DATABASE_URL", "postgress://kyc@127.0.0.1:5432/kyc")]),
        "missing-config",
        &["DATABASE_URL"],
    );
    // The value the program said it used, just before a library refused it.
    named_as(
        "digest-mailer: scheduling weekly digest with \"0 8 * * MON-FRI-SAT\"
CronError: Field (dayOfWeek) cannot be parsed
    at CronTime._parseField (/srv/node_modules/cron/dist/time.js:305:23)
    at Object.<anonymous> (/srv/digest/scheduler.js:4:13)",
        &env(&[("DIGEST_CRON", "0 8 * * MON-FRI-SAT")]),
        "missing-config",
        &["DIGEST_CRON"],
    );
    // A JSON5 parser's own error type, on the file a variable points at.
    named_as(
        "Traceback (most recent call last):
  File \"/srv/flags/flags.py\", line 4, in <module>
    flags = pyjson5.load(fh)
  File \"src/_decoder.pyx\", line 815, in pyjson5.pyjson5._decode_all
pyjson5.pyjson5.Json5IllegalCharacter: (\"Expected b'comma' or U+007d near 65, found U+006e\")",
        &env(&[("FLAGS_FILE", "/etc/flags/flags.json5")]),
        "missing-config",
        &["/etc/flags/flags.json5"],
    );
    // apischema's issue list, of the one data file the program is given.
    named_as(
        "Traceback (most recent call last):
  File \"/srv/wms/planner.py\", line 10, in <module>
    cfg = deserialize(PlannerConfig, raw)
  File \"/venv/lib/python3.11/site-packages/apischema/deserialization/__init__.py\", line 862, in deserialize
    return deserialization_method(
apischema.validation.errors.ValidationError: ValidationError: [{'loc': ['dock_count'], 'err': 'missing property'}]",
        &env(&[("WMS_CONFIG", "/etc/wms/wms.json")]),
        "missing-config",
        &["/etc/wms/wms.json", "dock_count"],
    );
    // A required setting in the program's words, under a NullPointerException.
    named_as(
        "Exception in thread \"main\" java.lang.NullPointerException: DOCK_SITE_ID must be configured
\tat java.base/java.util.Objects.requireNonNull(Objects.java:336)
\tat org.apache.commons.lang3.Validate.notBlank(Validate.java:439)
\tat DockScheduler.main(DockScheduler.java:8)",
        &env(&[("DOCK_SLOTS", "16")]),
        "missing-config",
        &["DOCK_SITE_ID"],
    );
    // A JSON log line naming its file in a field.
    named_by_last_words(
        r#"{"level":"fatal","msg":"invalid upstreams file","file":"/etc/gw/upstreams.jsonc","errors":[{"code":"CommaExpected","offset":72}]}"#,
        &Context::default(),
        "missing-config",
        &["/etc/gw/upstreams.jsonc"],
    );
}

#[test]
fn v21_shapes_name_the_option_the_variable_and_the_cycle() {
    // A required option in the program's words.
    named_by_last_words(
        "import-cli: --tenant is required",
        &Context {
            exit: Some("code 64".into()),
            ..Context::default()
        },
        "missing-config",
        &["--tenant"],
    );
    // ESM's temporal dead zone in a module the entry script imported.
    let esm = "file:///srv/rollup/windows.js:4
console.log(`windows: timezone ${settings.tz}`);
                                 ^

ReferenceError: Cannot access 'settings' before initialization
    at file:///srv/rollup/windows.js:4:34
    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)";
    let ctx = Context {
        command: vec!["node".into(), "main.js".into()],
        ..Context::default()
    };
    named_as(esm, &ctx, "import-cycle", &["windows.js:4"]);
    // In the entry script itself it is the program's bug.
    let ctx = Context {
        command: vec!["node".into(), "windows.js".into()],
        ..Context::default()
    };
    assert_ne!(id(esm, &ctx).map(|n| n.id), Some("import-cycle"));
    // The variable a progress line says it reads, then a library refuses.
    named_as(
        "loading signing key from WEBHOOK_SIGNING_KEY
Traceback (most recent call last):
  File \"/srv/signer.py\", line 6, in <module>
    key = SigningKey(raw)
  File \"/venv/lib/python3.11/site-packages/nacl/signing.py\", line 183, in __init__
    raise exc.ValueError(
nacl.exceptions.ValueError: The seed must be exactly 32 bytes long",
        &env(&[("WEBHOOK_SIGNING_KEY", "c2hvcnQ="), ("LOG_LEVEL", "info")]),
        "missing-config",
        &["WEBHOOK_SIGNING_KEY"],
    );
    // A decoded environment that printed NaN for a variable that is set.
    named_by_last_words(
        "Decoding error:
{
  \"LOG_LEVEL\": undefined,
  \"WORKER_CONCURRENCY\": NaN,
}",
        &env(&[("WORKER_CONCURRENCY", "four")]),
        "missing-config",
        &["WORKER_CONCURRENCY"],
    );
    // A host variable paired with a port variable of the same stem.
    let vars = [("NTP_SERVER", "127.0.0.1"), ("NTP_PORT", "64475")];
    let known = Known::from_env(vars.iter().copied());
    assert_eq!(known.len(), 1, "{known:?}");
    assert_eq!(known[0].name, "NTP_SERVER/NTP_PORT");
    let vars = [("DEPLOY_HOST", "127.0.0.1"), ("DEPLOY_SSH_PORT", "2222")];
    assert_eq!(
        Known::from_env(vars.iter().copied())[0].name,
        "DEPLOY_HOST/DEPLOY_SSH_PORT"
    );
}

#[test]
fn an_unknown_time_zone_is_the_setting_that_holds_it() {
    let ctx = env(&[("TZ", "America/Sao_Paolo")]);
    named_as(
        "Traceback (most recent call last):
  File \"/srv/cron/cron.py\", line 5, in <module>
    tz = get_localzone()
zoneinfo._common.ZoneInfoNotFoundError: 'tzlocal() does not support non-zoneinfo timezones like America/Sao_Paolo.'",
        &ctx,
        "missing-config",
        &["time zone", "America/Sao_Paolo"],
    );
    named_by_last_words(
        "panic: time: unknown time zone Europe/Berlinn",
        &Context::default(),
        "missing-config",
        &["Europe/Berlinn"],
    );
}

#[test]
fn a_configured_size_reached_is_a_limit_naming_its_variable() {
    let ctx = env(&[
        ("THUMB_INDEX_PATH", "/tmp/thumbidx"),
        ("THUMB_INDEX_MAP_SIZE", "1048576"),
    ]);
    named_as(
        "thumb-index: opening /tmp/thumbidx map_size=1048576
Traceback (most recent call last):
  File \"/srv/thumbs/index.py\", line 8, in <module>
    txn.put(key, value)
lmdb.MapFullError: mdb_put: MDB_MAP_FULL: Environment mapsize limit reached",
        &ctx,
        "resource-limit",
        &["THUMB_INDEX_MAP_SIZE"],
    );
    // A rate limit is the other side's answer, not a size of ours.
    let rate = last_words_of("fatal: rate limit exceeded (429)", &ctx);
    assert!(rate.is_none_or(|n| n.id != "resource-limit"));
}

#[test]
fn an_open_files_limit_names_the_pool_that_asks_for_more() {
    let ctx = Context {
        env: vec![("REPORT_POOL_SIZE".into(), "40".into())],
        command: vec![
            "sh".into(),
            "-c".into(),
            "ulimit -n 32; exec python fanout.py".into(),
        ],
        ..Context::default()
    };
    named_as(
        "Traceback (most recent call last):
  File \"/srv/fanout.py\", line 9, in <module>
OSError: [Errno 24] Too many open files",
        &ctx,
        "resource-limit",
        &["ulimit -n 32", "REPORT_POOL_SIZE=40"],
    );
}

#[test]
fn a_socket_path_not_available_without_an_errno_is_its_server_down() {
    let ctx = env(&[("SYSLOG_SOCKET", "/run/audit/log.sock")]);
    named_by_last_words(
        "setlogsock(): type='unix': path not available at audit.pl line 5.",
        &ctx,
        "dependency-unavailable",
        &["/run/audit/log.sock", "SYSLOG_SOCKET"],
    );
}

#[test]
fn a_write_failing_without_an_errno_on_a_full_filesystem_is_a_full_disk() {
    let mut ctx = env(&[("EXPORT_DIR", "/srv/exports")]);
    let text = "packer: compressing rows into /srv/exports/customers.csv.gz
packer: gzwrite failed at row 1919";
    // Without backstop's measure of the disk, the words alone say nothing.
    assert!(last_words_of(text, &ctx).is_none_or(|n| n.id != "disk-full"));
    ctx.full = vec!["/srv/exports".into()];
    named_by_last_words(text, &ctx, "disk-full", &["/srv/exports"]);
}

#[test]
fn a_value_of_the_environment_rejected_where_it_is_used_is_that_setting() {
    // Its value named in the message (a list item), by a validator's type.
    named_by_last_words(
        "netaddr.core.AddrFormatError: invalid IPNetwork 10.20.300.0/24",
        &env(&[("ALLOWED_CIDRS", "10.0.0.0/8, 10.20.300.0/24")]),
        "missing-config",
        &["ALLOWED_CIDRS"],
    );
    // No value in the message: the validator's type names the variable.
    named_as(
        "Traceback (most recent call last):
  File \"/srv/router.py\", line 4, in <module>
    addr = validate_email(ONCALL)
email_validator.exceptions.EmailSyntaxError: The part after the @-sign contains invalid characters: '@'.",
        &env(&[("ONCALL_EMAIL", "oncall@@example.com")]),
        "missing-config",
        &["ONCALL_EMAIL"],
    );
    // Go's `unknown user` of a user name the environment gives.
    named_by_last_words(
        "print-spooler: cannot resolve service account: user: unknown user spooler",
        &env(&[("SPOOLER_RUN_AS", "spooler")]),
        "missing-config",
        &["SPOOLER_RUN_AS"],
    );
    // A lock's type word is no validator: not a setting.
    let lock = id(
        "LockError: Exceeded 3 attempts to lock the resource \"locks:batch\".
    at /app/node_modules/redlock/dist/cjs/index.js:290:23",
        &env(&[("LOCK_REDIS_ADDR", "127.0.0.1:61900")]),
    );
    assert!(lock.is_none_or(|n| n.id != "missing-config"));
}

#[test]
fn a_plugin_a_setting_asks_for_and_is_not_installed_is_a_missing_module() {
    named_by_last_words(
        "stevedore.exception.NoMatches: No 'vault_backup.storage' driver found, looking for 's3'",
        &env(&[("STORAGE_BACKEND", "s3")]),
        "missing-module",
        &["STORAGE_BACKEND"],
    );
}

#[test]
fn the_words_of_a_configuration_say_which_key_it_lacks() {
    named_by_last_words(
        "Error: order-events: config.json is missing \"broker.topic\"",
        &Context::default(),
        "missing-config",
        &["config.json", "broker.topic"],
    );
    named_by_last_words(
        "cdr-export: ./cdr-export.conf: 'sftp_user' not defined",
        &Context::default(),
        "missing-config",
        &["sftp_user"],
    );
}

#[test]
fn a_database_the_server_does_not_have_is_a_setting() {
    named_by_last_words(
        "psycopg.OperationalError: connection to server at \"127.0.0.1\", port 65432 failed: FATAL:  database \"catalog\" does not exist",
        &Context::default(),
        "missing-config",
        &["`catalog`"],
    );
}

#[test]
fn a_directory_it_is_told_to_change_to_is_its_working_directory() {
    let ctx = Context {
        command: vec![
            "gunicorn".into(),
            "--chdir".into(),
            "/srv/invoice/current".into(),
            "wsgi:app".into(),
        ],
        ..Context::default()
    };
    named_by_last_words(
        "Error: can't chdir to '/srv/invoice/current'",
        &ctx,
        "workdir-missing",
        &["/srv/invoice/current"],
    );
}

#[test]
fn a_version_that_does_not_fit_and_an_invalid_url_are_named() {
    named_as(
        "Traceback (most recent call last):
  File \"/srv/drop.py\", line 2, in <module>
    import pysftp
ImportError: cannot import name 'DSSKey' from 'paramiko' (/venv/lib/python3.11/site-packages/paramiko/__init__.py)",
        &Context::default(),
        "missing-module",
        &["paramiko", "DSSKey"],
    );
    named_as(
        "TypeError: Invalid URL
    at new URL (node:internal/url:775:36)
    at Object.<anonymous> (/srv/hook/hook.js:2:13) {
  code: 'ERR_INVALID_URL',
  input: 'undefined'
}",
        &Context::default(),
        "missing-config",
        &["hook.js:2", "Invalid URL"],
    );
}

#[test]
fn a_file_that_is_not_the_archive_it_should_be_is_its_setting() {
    let ctx = Context {
        dir: Some("/srv/loader".into()),
        ..env(&[("PLUGIN_BUNDLE", "plugins.zip")])
    };
    named_as(
        "plugin-loader: unpacking plugins.zip
Error: Can't find end of central directory : is this a zip file ? If it is, see https://stuk.github.io/jszip/documentation/howto/read_zip.html
    at ZipEntries.readEndOfCentral (/srv/loader/node_modules/jszip/lib/zipEntries.js:167:23)
    at async /srv/loader/index.js:6:15",
        &ctx,
        "missing-config",
        &["/srv/loader/plugins.zip", "not a valid archive"],
    );
}

#[test]
fn a_pattern_compiled_at_run_time_is_its_variable_s_value() {
    let ctx = env(&[("SLUG_ROUTE_PATTERN", "^/p/(?<slug>[a-z0-9-]+$")]);
    let text = "/srv/app/node_modules/xregexp/xregexp-all.js:379
        return augment(new RegExp(output.join(\"\"), flags),
                       ^

SyntaxError: Invalid regular expression: /^/p/([a-z0-9-]+$/: Unterminated group
    at new RegExp (<anonymous>)
    at self (/srv/app/node_modules/xregexp/xregexp-all.js:379:24)
    at Object.<anonymous> (/srv/app/index.js:3:15)";
    named_as(text, &ctx, "missing-config", &["SLUG_ROUTE_PATTERN"]);
    // A literal of the program's own source is its syntax.
    let literal = "/srv/app/index.js:3
const slug = /^\\/p\\/([a-z]+$/;
             ^^^^^^^^^^^^^^^

SyntaxError: Invalid regular expression: /^\\/p\\/([a-z]+$/: Unterminated group
    at internalCompileFunction (node:internal/vm:76:18)
    at wrapSafe (node:internal/modules/cjs/loader:1283:20)";
    named_as(literal, &ctx, "syntax-error", &["index.js:3"]);
}

#[test]
fn v24_shapes_a_package_s_own_type_error_a_spelled_out_setting_and_a_missing_program() {
    // A package throwing a TypeError itself validates its input.
    named_as(
        "/srv/node_modules/semver/classes/semver.js:56
      throw new TypeError(`Invalid Version: ${version}`)
      ^

TypeError: Invalid Version: 2.x
    at new SemVer (/srv/node_modules/semver/classes/semver.js:56:13)
    at Object.<anonymous> (/srv/gate.js:3:13)",
        &env(&[("MIN_CLIENT_VERSION", "2.x"), ("PORT", "3031")]),
        "missing-config",
        &["MIN_CLIENT_VERSION (2.x)"],
    );
    // The message spells the variable out in words.
    named_as(
        "/srv/node_modules/web-push/src/vapid-helper.js:111
    throw new Error('Vapid public key should be 65 bytes long when decoded.');
    ^

Error: Vapid public key should be 65 bytes long when decoded.
    at Object.validatePublicKey (/srv/node_modules/web-push/src/vapid-helper.js:111:11)
    at Object.<anonymous> (/srv/push.js:2:9)",
        &env(&[("VAPID_PUBLIC_KEY", "BNc0x"), ("VAPID_PRIVATE_KEY", "x")]),
        "missing-config",
        &["VAPID_PUBLIC_KEY"],
    );
    // `which`'s `not found: ffprobe` is a program not installed.
    named_as(
        "Error: not found: ffprobe
    at getNotFoundError (/srv/node_modules/which/lib/index.js:16:17)
    at Object.<anonymous> (/srv/probe.js:3:1)",
        &env(&[("FFPROBE_BIN", "ffprobe")]),
        "command-not-found",
        &["`ffprobe`"],
    );
    // Java's HttpURLConnection says 401 its own way.
    let ctx = Context {
        known: Known::from_env([("PARTNER_API_URL", "http://127.0.0.1:65025")]),
        ..env(&[
            ("PARTNER_API_URL", "http://127.0.0.1:65025"),
            ("PARTNER_API_TOKEN", "t"),
        ])
    };
    named_as(
        "Exception in thread \"main\" java.io.IOException: Server returned HTTP response code: 401 for URL: http://127.0.0.1:65025/v1/orders
\tat PartnerSync.main(PartnerSync.java:9)",
        &ctx,
        "dependency-auth-failed",
        &[],
    );
    // Perl's kinds of reference are no settings.
    assert_ne!(
        id(
            "Can't use an undefined value as an ARRAY reference at rollup.pl line 8.",
            &Context::default()
        )
        .map(|n| n.id),
        Some("missing-config")
    );
}
