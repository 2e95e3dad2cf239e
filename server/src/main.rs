//! `octopus-lite`: run the embedded Octopus-compatible server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use octopus_server::{Server, ServerConfig};

const USAGE: &str = "usage: octopus-lite [--listen ADDR] [--data-dir DIR] [--api-key KEY] [--step-feed DIR] [--trust-step-package ID]...

  --listen ADDR    address to listen on (default 127.0.0.1:8065; port 0 = any free port)
  --data-dir DIR   directory of the database and generated API key (default ./octopus-lite-data)
  --api-key KEY    API key to accept (default: generated once and kept in the data directory)
  --max-body BYTES request body limit (default 4194304)
  --max-package-bytes BYTES
                   largest package upload (default 2147483648)
  --step-feed DIR  step-package feed directory to watch (new archives are installed)
  --trust-step-package ID[@RANGE]
                   allow installing step package ID (optionally only versions in RANGE,
                   e.g. acme-steps@^2.0); repeatable";

fn parse_args() -> Result<ServerConfig, String> {
    let mut config = ServerConfig::new(PathBuf::from("octopus-lite-data"));
    config.listen = SocketAddr::from(([127, 0, 0, 1], 8065));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--listen" => {
                config.listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?
            }
            "--data-dir" => config.data_dir = PathBuf::from(value),
            "--api-key" => {
                if !value.starts_with("API-")
                    || value.len() < 8
                    || !value.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err("--api-key must look like API-XXXXXXXX".into());
                }
                config.api_key = Some(value);
            }
            "--max-body" => {
                config.max_body_bytes = value
                    .parse()
                    .map_err(|e| format!("--max-body {value}: {e}"))?
            }
            "--max-package-bytes" => {
                config.max_package_bytes = value
                    .parse()
                    .map_err(|e| format!("--max-package-bytes {value}: {e}"))?
            }
            "--step-feed" => config.step_feed_dir = Some(PathBuf::from(value)),
            "--trust-step-package" => {
                let (id, range) = match value.split_once('@') {
                    Some((id, r)) => (id, Some(r)),
                    None => (value.as_str(), None),
                };
                octopus_packaging::filename::validate_id(id)
                    .map_err(|e| format!("--trust-step-package {value}: {e}"))?;
                let versions = range
                    .map(octopus_packaging::range::VersionRange::parse)
                    .transpose()
                    .map_err(|e| format!("--trust-step-package {value}: {e}"))?;
                config.trusted_step_packages.packages.push(
                    octopus_packaging::step_package::TrustedPackage {
                        id: id.to_owned(),
                        versions,
                    },
                );
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("octopus-lite: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
    runtime.block_on(async move {
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
    })
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
