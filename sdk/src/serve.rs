//! Serving a provider the way Terraform starts plugins: the go-plugin handshake over a
//! Unix socket, AutoMTLS with Terraform's client certificate required and verified,
//! gRPC health, controller shutdown, and a debug mode for `TF_REATTACH_PROVIDERS`.

use crate::grpc::ProviderService;
use crate::provider::Provider;
use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tf_proto::health::health_check_response::ServingStatus;
use tf_proto::{health, plugin};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status};

/// go-plugin's magic cookie: proof that Terraform (or OpenTofu) started us.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform sets.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// gRPC messages up to this size are accepted and sent, as in terraform-plugin-go.
pub const MAX_MESSAGE_SIZE: usize = 256 << 20;

/// Where and how a provider is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The provider's source address, e.g. `registry.terraform.io/example/files`; used
    /// in debug mode's `TF_REATTACH_PROVIDERS`.
    pub address: String,
    /// Serve without TLS and print `TF_REATTACH_PROVIDERS` (for debuggers and tests).
    pub debug: bool,
}

impl ServeOptions {
    /// Options for `address`, with `--debug` taken from the command line.
    pub fn from_args(address: impl Into<String>) -> ServeOptions {
        ServeOptions {
            address: address.into(),
            debug: std::env::args()
                .skip(1)
                .any(|a| a == "--debug" || a == "-debug"),
        }
    }
}

/// Serves `provider` until Terraform shuts it down. Call it from `main`:
///
/// ```no_run
/// # use tf_sdk::*;
/// # struct P;
/// # #[derive(Model, Clone)] struct C {}
/// # impl Provider for P { type Config = C; type Data = ();
/// #   fn type_name(&self) -> &str { "p" }
/// #   async fn configure(&self, _: C, _: String) -> Result<(), Diagnostics> { Ok(()) }
/// #   fn resources(&self) -> Vec<Box<dyn ErasedResource<()>>> { vec![] } }
/// fn main() -> std::process::ExitCode {
///     tf_sdk::serve(P, ServeOptions::from_args("registry.terraform.io/example/p"))
/// }
/// ```
pub fn serve<P: Provider>(provider: P, opts: ServeOptions) -> ExitCode {
    if !opts.debug && std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a plugin. These are not meant to be executed directly.\n\
             Please execute the program that consumes these plugins, which will\n\
             load any plugins automatically (terraform or tofu).\n\
             To debug it, run it with --debug and set TF_REATTACH_PROVIDERS as it prints."
        );
        return ExitCode::from(1);
    }
    if !opts.debug
        && let Some(raw) = std::env::var_os("PLUGIN_PROTOCOL_VERSIONS")
    {
        let Some(versions) = raw.to_str() else {
            eprintln!(
                "PLUGIN_PROTOCOL_VERSIONS is not valid UTF-8 ({raw:?}); the host must offer \
                 plugin protocol versions as a comma-separated list such as \"5,6\"."
            );
            return ExitCode::from(1);
        };
        if !versions.split(',').any(|v| v.trim() == "6") {
            eprintln!(
                "This provider speaks plugin protocol 6 (Terraform 1.0 or later, any OpenTofu); \
                 the host offers only {versions:?}."
            );
            return ExitCode::from(1);
        }
    }
    // Checked before anything is served: with an unusable certificate every
    // handshake would fail later, far from the cause.
    let tls = if opts.debug {
        None
    } else {
        match tls_from_env() {
            Ok(tls) => tls,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(provider, opts, tls)) {
        Ok(()) => {
            // Do not wait for stray tasks: Terraform expects a prompt exit.
            runtime.shutdown_timeout(Duration::from_millis(100));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("provider failed: {e}");
            ExitCode::from(1)
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A TLS configuration and the server certificate's DER, for the handshake line.
type Tls = (Arc<rustls::ServerConfig>, Vec<u8>);

/// The TLS configuration for Terraform's `PLUGIN_CLIENT_CERT` (AutoMTLS), or `None`
/// when it is unset or empty. Refuses a value that is not UTF-8 or not a certificate.
fn tls_from_env() -> Result<Option<Tls>, String> {
    let Some(raw) = std::env::var_os("PLUGIN_CLIENT_CERT") else {
        return Ok(None);
    };
    let Some(pem) = raw.to_str() else {
        return Err(
            "PLUGIN_CLIENT_CERT is not valid UTF-8; it must hold the host's client certificate in PEM form."
                .into(),
        );
    };
    if pem.is_empty() {
        return Ok(None);
    }
    tls_config(pem.as_bytes())
        .map(Some)
        .map_err(|e| e.to_string())
}

fn socket_path() -> PathBuf {
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    // Unique per process (a counter, as tests serve many providers at once) and
    // across processes (pid, and the clock for a reused pid).
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!("plugin{}-{serial}-{nanos:09}", std::process::id()))
}

/// Removes the socket file when serving ends, however it ends.
struct SocketGuard(PathBuf);
impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn run<P: Provider>(
    provider: P,
    opts: ServeOptions,
    tls: Option<Tls>,
) -> Result<(), BoxError> {
    let path = socket_path();
    let listener = UnixListener::bind(&path)?;
    let _guard = SocketGuard(path.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let router = router(provider, shutdown_tx.clone(), shutdown_rx.clone(), true);

    let mut out = std::io::stdout().lock();
    match &tls {
        Some((_, cert)) => writeln!(
            out,
            "1|6|unix|{}|grpc|{}",
            path.display(),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(cert)
        )?,
        None if opts.debug => print_reattach(&mut out, &opts.address, &path)?,
        None => writeln!(out, "1|6|unix|{}|grpc|", path.display())?,
    }
    out.flush()?;
    drop(out);

    // go-plugin servers ignore SIGINT: Terraform forwards Ctrl-C and then drives the
    // shutdown itself (StopProvider, then Shutdown). In debug mode Ctrl-C stops us.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let debug = opts.debug;
    let signal_tx = shutdown_tx.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sigint.recv() => {
                    if debug {
                        let _ = signal_tx.send(true);
                        return;
                    }
                    eprintln!("[DEBUG] plugin received interrupt signal, ignoring");
                }
                _ = sigterm.recv() => {
                    let _ = signal_tx.send(true);
                    return;
                }
            }
        }
    });

    let mut stop = shutdown_rx.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let serving = async {
        match tls {
            Some((config, _)) => {
                router
                    .serve_with_incoming_shutdown(
                        tls_incoming(listener, config, shutdown_rx.clone()),
                        shutdown,
                    )
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::UnixListenerStream::new(listener),
                        shutdown,
                    )
                    .await
            }
        }
    };
    // Graceful shutdown waits for connections; never wait long after Shutdown.
    let mut stopped = shutdown_rx.clone();
    tokio::select! {
        r = serving => r?,
        _ = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        } => {}
    }
    Ok(())
}

fn print_reattach(
    out: &mut impl std::io::Write,
    address: &str,
    path: &Path,
) -> std::io::Result<()> {
    let json = serde_json::json!({
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": 6,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "unix", "String": path.display().to_string() },
        }
    });
    writeln!(
        out,
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n"
    )
}

fn router<P: Provider>(
    provider: P,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
    honour_shutdown: bool,
) -> tonic::transport::server::Router {
    tonic::transport::Server::builder()
        .add_service(
            tf_proto::tfplugin6::provider_server::ProviderServer::new(ProviderService::new(
                provider,
            ))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(health::health_server::HealthServer::new(HealthService))
        .add_service(plugin::grpc_controller_server::GrpcControllerServer::new(
            Controller(honour_shutdown.then_some(shutdown_tx)),
        ))
        .add_service(plugin::grpc_broker_server::GrpcBrokerServer::new(Broker(
            shutdown_rx.clone(),
        )))
        .add_service(plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio(
            shutdown_rx,
        )))
}

/// A provider served inside the current process, for tests: Terraform attaches to it
/// through `TF_REATTACH_PROVIDERS` (plaintext over a private Unix socket, as
/// terraform-plugin-testing does), so no process is started per Terraform command.
///
/// Serve one instance per test: each Terraform run configures the provider it talks to.
/// It stops when dropped.
pub struct InProcess {
    reattach: String,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _socket: SocketGuard,
}

impl InProcess {
    /// Serves `provider` on a background thread with its own runtime.
    pub fn spawn<P: Provider>(provider: P, address: &str) -> std::io::Result<InProcess> {
        let path = socket_path();
        let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
        std_listener.set_nonblocking(true)?;
        let guard = SocketGuard(path.clone());
        let (tx, rx) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (router_tx, router_rx) = (tx.clone(), rx.clone());
        let thread = std::thread::Builder::new()
            .name("provider".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match UnixListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => return eprintln!("provider listener: {e}"),
                    };
                    let mut stop = router_rx.clone();
                    let r = router(provider, router_tx, router_rx, false)
                        .serve_with_incoming_shutdown(
                            tokio_stream::wrappers::UnixListenerStream::new(listener),
                            async move {
                                let _ = stop.wait_for(|s| *s).await;
                            },
                        )
                        .await;
                    if let Err(e) = r {
                        eprintln!("provider server failed: {e}");
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        let reattach = serde_json::json!({
            address: {
                "Protocol": "grpc",
                "ProtocolVersion": 6,
                "Pid": std::process::id(),
                "Test": true,
                "Addr": { "Network": "unix", "String": path.display().to_string() },
            }
        })
        .to_string();
        Ok(InProcess {
            reattach,
            shutdown: tx,
            thread: Some(thread),
            _socket: guard,
        })
    }

    /// The value for `TF_REATTACH_PROVIDERS`.
    pub fn reattach_providers(&self) -> &str {
        &self.reattach
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TLS server configuration that requires Terraform's client certificate (from
/// `PLUGIN_CLIENT_CERT`), with a fresh self-signed server certificate, whose DER is
/// returned for the handshake line.
pub fn tls_config(
    client_cert_pem: &[u8],
) -> Result<(Arc<rustls::ServerConfig>, Vec<u8>), BoxError> {
    let client_cert = CertificateDer::from_pem_slice(client_cert_pem)
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))?;
    // The PEM armour says nothing about its content: parse the certificate itself
    // (as a trust anchor, which go-plugin's self-signed CA certificate is), so a
    // wrapper around garbage is refused here instead of failing every handshake.
    rustls::RootCertStore::empty()
        .add(client_cert.clone())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT does not hold a valid X.509 certificate: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyAgreement,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key)?;
    let cert_der = cert.der().to_vec();

    let verifier = Arc::new(PinnedClientCert {
        expected: client_cert.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(config), cert_der))
}

/// Accepts exactly the certificate Terraform told us about, and checks that the peer
/// holds its private key (the handshake signature). This is what go-plugin's
/// `RequireAndVerifyClientCert` with a one-certificate pool amounts to; webpki's chain
/// verifier cannot be used because go-plugin's client certificate is a CA certificate.
#[derive(Debug)]
struct PinnedClientCert {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        true
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS connection over a Unix socket, as tonic wants its connections.
pub struct TlsConn(tokio_rustls::server::TlsStream<UnixStream>);

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Accepts connections and completes TLS handshakes concurrently; connections that
/// fail the handshake (no or wrong client certificate) are dropped and logged.
fn tls_incoming(
    listener: UnixListener,
    config: Arc<rustls::ServerConfig>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<TlsConn>> {
    let (tx, rx) = mpsc::channel(16);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        eprintln!("[ERROR] accepting a connection: {e}");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(TlsConn(tls))).await;
                    }
                    Ok(Err(e)) => {
                        eprintln!("[WARN] refused a connection: TLS handshake failed: {e}")
                    }
                    Err(_) => eprintln!("[WARN] refused a connection: TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// gRPC health: the `plugin` service (and the server as a whole) is serving.
struct HealthService;

#[tonic::async_trait]
impl health::health_server::Health for HealthService {
    async fn check(
        &self,
        req: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        let service = req.into_inner().service;
        if service.is_empty() || service == "plugin" {
            Ok(Response::new(health::HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            }))
        } else {
            Err(Status::not_found(format!("unknown service {service:?}")))
        }
    }
}

/// go-plugin's controller: `Shutdown` stops the server (not in-process test servers,
/// which outlive each Terraform command).
struct Controller(Option<watch::Sender<bool>>);

#[tonic::async_trait]
impl plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<plugin::Empty>) -> Result<Response<plugin::Empty>, Status> {
        if let Some(tx) = &self.0 {
            let _ = tx.send(true);
        }
        Ok(Response::new(plugin::Empty {}))
    }
}

/// go-plugin's broker: providers open no extra connections, so the stream is held
/// open and quiet until shutdown.
struct Broker(watch::Receiver<bool>);

#[tonic::async_trait]
impl plugin::grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(
        &self,
        _: Request<tonic::Streaming<plugin::ConnInfo>>,
    ) -> Result<Response<tonic::codegen::BoxStream<plugin::ConnInfo>>, Status> {
        Ok(Response::new(quiet_until(self.0.clone())))
    }
}

/// go-plugin's stdio forwarding: we log straight to stderr, which the host reads, so
/// the stream stays open and quiet until shutdown.
struct Stdio(watch::Receiver<bool>);

#[tonic::async_trait]
impl plugin::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<tonic::codegen::BoxStream<plugin::StdioData>>, Status> {
        Ok(Response::new(quiet_until(self.0.clone())))
    }
}

fn quiet_until<T: Send + 'static>(mut stop: watch::Receiver<bool>) -> tonic::codegen::BoxStream<T> {
    Box::pin(async_stream_once(async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}

/// A stream that yields nothing and ends when `done` completes.
fn async_stream_once<T: Send + 'static>(
    done: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl tokio_stream::Stream<Item = Result<T, Status>> + Send {
    let (tx, rx) = mpsc::channel::<Result<T, Status>>(1);
    tokio::spawn(async move {
        done.await;
        drop(tx);
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
