//! `octopus-lite`: run the embedded Octopus-compatible server.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lexopt::{Arg, Parser};
use octopus_packaging::range::VersionRange;
use octopus_packaging::step_package::TrustedPackage;
use octopus_server::{Server, ServerConfig};

const USAGE: &str = "usage: octopus-lite [OPTIONS]

options (each VALUE may also be given as --option=VALUE):
  --listen ADDR    address to listen on (default 127.0.0.1:8065; port 0 = any free port)
  --data-dir DIR   directory of the database and generated API key (default ./octopus-lite-data)
  --api-key KEY    API key to accept (default: generated once and kept in the data directory)
  --max-body BYTES request body limit (default 4194304)
  --max-package-bytes BYTES
                   largest package upload (default 2147483648)
  --step-feed DIR  step-package feed directory to watch (new archives are installed)
  --trust-step-package ID[@RANGE]
                   allow installing step package ID (optionally only versions in RANGE,
                   e.g. acme-steps@^2.0); repeatable
  --max-uploads N  package uploads received at once; more get 503 (default 64)
  --upload-deadline DURATION
                   longest time an upload may take to arrive (default 1h)
  --header-timeout DURATION
                   longest time from a request's first byte to the end of its
                   headers (default 20s)
  --idle-timeout DURATION
                   close connections waiting this long for a request (default 120s)
  --max-connections N
                   connections open at once (default 4096; lowered to fit the
                   open-file limit)
  --shutdown-grace DURATION
                   on SIGTERM, longest wait for requests in progress (default 5s)
  --max-tasks N    deployments (tasks) running at once (default 4)
  --step-timeout DURATION
                   longest run time of one deployment action; its processes are
                   killed after it (default 1h)
  --run-steps-as USER
                   run deployment steps as this user (a name, or UID:GID) instead
                   of the server's own; octopus-lite must run as root for it
  -h, --help       print this help and exit
  -V, --version    print the version and exit

DURATION is a number of seconds, or a number with ms, s, m or h (500ms, 90s, 2m, 1h).";

/// What the command line asks for.
enum Command {
    /// Run the server with this configuration.
    Run(Box<ServerConfig>),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// Parses the arguments (without the program name). The error is one line
/// naming the offending argument.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut config = ServerConfig::new(PathBuf::from("octopus-lite-data"));
    config.listen = SocketAddr::from(([127, 0, 0, 1], 8065));
    let mut parser = Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(describe)? {
        match arg {
            Arg::Short('h') => return Ok(Command::Help),
            Arg::Short('V') => return Ok(Command::Version),
            Arg::Long(flag @ ("help" | "version")) => {
                let (flag, command) = if flag == "help" {
                    ("--help", Command::Help)
                } else {
                    ("--version", Command::Version)
                };
                // `--help=x` is a mistake, not a request for help: lexopt would only
                // notice the value on the next call, which never comes.
                if let Some(v) = parser.optional_value() {
                    return Err(format!("option {flag} takes no value (got {v:?})"));
                }
                return Ok(command);
            }
            Arg::Long("listen") => {
                config.listen = value(&mut parser, "--listen", str::parse::<SocketAddr>)?;
            }
            Arg::Long("data-dir") => {
                // Any OS path is fine here: no UTF-8 needed.
                config.data_dir = PathBuf::from(raw_value(&mut parser, "--data-dir")?);
            }
            Arg::Long("api-key") => {
                config.api_key = Some(api_key(raw_value(&mut parser, "--api-key")?)?);
            }
            Arg::Long("max-body") => {
                config.max_body_bytes = value(&mut parser, "--max-body", |v| v.parse())?;
            }
            Arg::Long("max-package-bytes") => {
                config.max_package_bytes =
                    value(&mut parser, "--max-package-bytes", |v| v.parse())?;
            }
            Arg::Long("step-feed") => {
                config.step_feed_dir = Some(PathBuf::from(raw_value(&mut parser, "--step-feed")?));
            }
            Arg::Long("trust-step-package") => {
                let trusted = value(&mut parser, "--trust-step-package", parse_trusted)?;
                config.trusted_step_packages.packages.push(trusted);
            }
            Arg::Long("max-uploads") => {
                config.max_uploads = value(&mut parser, "--max-uploads", parse_count)?;
            }
            Arg::Long("upload-deadline") => {
                config.upload_deadline = value(&mut parser, "--upload-deadline", parse_duration)?;
            }
            Arg::Long("header-timeout") => {
                config.header_timeout = value(&mut parser, "--header-timeout", parse_duration)?;
            }
            Arg::Long("idle-timeout") => {
                config.idle_timeout = value(&mut parser, "--idle-timeout", parse_duration)?;
            }
            Arg::Long("max-connections") => {
                config.max_connections = value(&mut parser, "--max-connections", parse_count)?;
            }
            Arg::Long("max-tasks") => {
                config.max_concurrent_tasks = value(&mut parser, "--max-tasks", parse_count)?;
            }
            Arg::Long("run-steps-as") => {
                config.run_steps_as = Some(value(&mut parser, "--run-steps-as", parse_user)?);
            }
            Arg::Long("step-timeout") => {
                config.step_timeout = value(&mut parser, "--step-timeout", parse_duration)?;
            }
            Arg::Long("shutdown-grace") => {
                config.shutdown_grace = value(&mut parser, "--shutdown-grace", parse_duration)?;
            }
            other => return Err(describe(other.unexpected())),
        }
    }
    Ok(Command::Run(Box::new(config)))
}

/// The next argument as the value of `flag`, in any encoding.
fn raw_value(parser: &mut Parser, flag: &str) -> Result<OsString, String> {
    parser
        .value()
        .map_err(|_| format!("missing value for {flag}"))
}

/// The next argument as the value of `flag`, checked by `parse`.
fn value<T, E: std::fmt::Display>(
    parser: &mut Parser,
    flag: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, String> {
    let raw = raw_value(parser, flag)?;
    let text = raw
        .to_str()
        .ok_or_else(|| format!("invalid value {raw:?} for {flag}: not valid UTF-8"))?;
    parse(text).map_err(|e| format!("invalid value {text:?} for {flag}: {e}"))
}

/// `--api-key`: Octopus' `API-` prefix and printable ASCII. The message leaves
/// the value out: it may be a real key with a typo.
fn api_key(value: OsString) -> Result<String, String> {
    match value.into_string() {
        Ok(key)
            if key.starts_with("API-")
                && key.len() >= 8
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(key)
        }
        _ => Err("invalid value for --api-key: it must look like API-XXXXXXXX".into()),
    }
}

/// A count of at least 1.
fn parse_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".into()),
    }
}

/// `UID:GID`, or a user name looked up in `/etc/passwd` (its primary group).
fn parse_user(value: &str) -> Result<(u32, u32), String> {
    if let Some((u, g)) = value.split_once(':') {
        return match (u.parse(), g.parse()) {
            (Ok(u), Ok(g)) => Ok((u, g)),
            _ => Err("expected a user name or UID:GID".into()),
        };
    }
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&value))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
        .ok_or_else(|| "no such user in /etc/passwd (give UID:GID instead)".into())
}

/// A positive duration: seconds, or a number with `ms`, `s`, `m` or `h`.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let (number, unit) = match v.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err("expected a duration such as 30, 500ms, 90s, 2m or 1h".into()),
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && (n * scale) < 1e9 => Ok(Duration::from_secs_f64(n * scale)),
        _ => Err("expected a positive duration such as 30, 500ms, 90s, 2m or 1h".into()),
    }
}

/// `--trust-step-package`: a package ID, optionally `@` a version range.
fn parse_trusted(value: &str) -> Result<TrustedPackage, String> {
    let (id, range) = match value.split_once('@') {
        Some((id, r)) => (id, Some(r)),
        None => (value, None),
    };
    octopus_packaging::filename::validate_id(id).map_err(|e| e.to_string())?;
    let versions = range
        .map(VersionRange::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(TrustedPackage {
        id: id.to_owned(),
        versions,
    })
}

/// One line for a lexopt error, naming the argument.
fn describe(e: lexopt::Error) -> String {
    match e {
        lexopt::Error::UnexpectedOption(option) => format!("unknown option {option}"),
        lexopt::Error::UnexpectedArgument(arg) => format!("unexpected argument {arg:?}"),
        lexopt::Error::UnexpectedValue { option, value } => {
            format!("option {option} takes no value (got {value:?})")
        }
        lexopt::Error::MissingValue {
            option: Some(option),
        } => format!("missing value for {option}"),
        other => other.to_string(),
    }
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("octopus-lite {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("octopus-lite: {e}\nrun 'octopus-lite --help' for usage");
            return ExitCode::from(2);
        }
    };
    // A server wants every file descriptor it may have (connections, uploads, the
    // database); the connection limit is then fitted to what it got.
    octopus_server::http::raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("octopus-lite: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("octopus-lite: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Write errors (e.g. a closed pipe) must not take the server down.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "octopus-lite listening on {}", server.url());
        let _ = writeln!(out, "API key: {}", server.api_key());
        let _ = writeln!(out, "data directory: {}", server.data_dir().display());
        let _ = out.flush();
        drop(out);
        shutdown_signal().await;
        server.shutdown().await;
        ExitCode::SUCCESS
    });
    // Database work already under way on the blocking pool is not waited for long:
    // a write either committed or left no trace.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from))
    }

    fn config(args: &[&str]) -> ServerConfig {
        match parse(args) {
            Ok(Command::Run(c)) => *c,
            Ok(_) => panic!("{args:?} did not ask to run"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn values_follow_the_flag_or_an_equals_sign() {
        for args in [
            &[
                "--listen",
                "127.0.0.1:9",
                "--max-body",
                "10",
                "--data-dir",
                "d",
            ][..],
            &["--listen=127.0.0.1:9", "--max-body=10", "--data-dir=d"][..],
        ] {
            let c = config(args);
            assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 9)));
            assert_eq!(c.max_body_bytes, 10);
            assert_eq!(c.data_dir, PathBuf::from("d"));
        }
        let c = config(&[]);
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8065)));
        assert_eq!(c.data_dir, PathBuf::from("octopus-lite-data"));
    }

    #[test]
    fn trusted_step_packages_repeat_and_take_ranges() {
        let c = config(&[
            "--trust-step-package",
            "acme-steps@^2.0",
            "--trust-step-package=other",
        ]);
        let trusted = &c.trusted_step_packages.packages;
        assert_eq!(trusted.len(), 2);
        assert_eq!(trusted[0].id, "acme-steps");
        assert!(trusted[0].versions.is_some());
        assert_eq!(trusted[1].id, "other");
        assert_eq!(trusted[1].versions, None);
        let e = parse(&["--trust-step-package", "acme@not a range"])
            .err()
            .unwrap();
        assert!(e.contains("--trust-step-package"), "{e}");
    }

    #[test]
    fn api_keys_are_checked_and_not_echoed() {
        assert_eq!(
            config(&["--api-key", "API-ABCDEFGH"]).api_key.as_deref(),
            Some("API-ABCDEFGH")
        );
        let e = parse(&["--api-key", "secret-typo"]).err().unwrap();
        assert!(e.contains("--api-key") && !e.contains("secret-typo"), "{e}");
    }

    #[test]
    fn errors_name_the_argument() {
        let cases = [
            (&["--bogus"][..], "unknown option --bogus"),
            (&["-x"][..], "unknown option -x"),
            (&["foo"][..], "unexpected argument \"foo\""),
            (&["--listen"][..], "missing value for --listen"),
            (
                &["--listen", "nope"][..],
                "invalid value \"nope\" for --listen",
            ),
            (
                &["--max-body=-1"][..],
                "invalid value \"-1\" for --max-body",
            ),
            (&["--help=yes"][..], "option --help takes no value"),
        ];
        for (args, want) in cases {
            let e = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert!(e.starts_with(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{args:?}: {e}");
        }
    }

    #[test]
    fn limits_take_counts_and_durations() {
        let c = config(&[
            "--max-uploads=3",
            "--upload-deadline",
            "90s",
            "--header-timeout",
            "500ms",
            "--idle-timeout=2m",
            "--max-connections",
            "10",
            "--shutdown-grace",
            "1.5",
            "--max-tasks=2",
            "--step-timeout",
            "10m",
        ]);
        assert_eq!(c.max_concurrent_tasks, 2);
        assert_eq!(
            config(&["--run-steps-as", "65534:65534"]).run_steps_as,
            Some((65534, 65534))
        );
        assert_eq!(config(&["--run-steps-as=root"]).run_steps_as, Some((0, 0)));
        assert_eq!(c.step_timeout, Duration::from_secs(600));
        assert_eq!(c.max_uploads, 3);
        assert_eq!(c.upload_deadline, Duration::from_secs(90));
        assert_eq!(c.header_timeout, Duration::from_millis(500));
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.max_connections, 10);
        assert_eq!(c.shutdown_grace, Duration::from_millis(1500));
        assert_eq!(
            config(&["--upload-deadline=1h"]).upload_deadline,
            Duration::from_secs(3600)
        );
        for bad in [
            &["--max-uploads", "0"][..],
            &["--max-connections", "-1"][..],
            &["--header-timeout", "0"][..],
            &["--idle-timeout", "soon"][..],
            &["--shutdown-grace", "5d"][..],
            &["--max-tasks", "0"][..],
            &["--step-timeout", "never"][..],
            &["--run-steps-as", "no-such-user-here"][..],
            &["--run-steps-as", "1:x"][..],
        ] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert!(
                e.starts_with(&format!("invalid value {:?} for {}", bad[1], bad[0])),
                "{e}"
            );
        }
    }

    #[test]
    fn help_and_version_stop_parsing() {
        // Arguments after them are not looked at; errors before them still count.
        assert!(matches!(parse(&["-h", "--bogus"]), Ok(Command::Help)));
        assert!(parse(&["--listen", "x:1", "-h"]).is_err());
        assert!(matches!(parse(&["--version"]), Ok(Command::Version)));
        assert!(matches!(parse(&["-V"]), Ok(Command::Version)));
    }
}
