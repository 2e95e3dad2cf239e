//! The plugin handshake and AutoMTLS, checked from the outside with a client that
//! behaves like Terraform (a P-521 client certificate, like go-plugin's).

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tf_proto::health::{HealthCheckRequest, health_client::HealthClient};
use tf_proto::plugin::{Empty, grpc_controller_client::GrpcControllerClient};
use tf_proto::tfplugin6::{get_provider_schema, provider_client::ProviderClient};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-localfs");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client certificate made like go-plugin's: P-521, self-signed CA, `localhost`.
fn go_plugin_style_cert() -> (String, Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), cert.der().to_vec(), key.serialize_der())
}

struct Plugin {
    child: Child,
    socket: String,
    server_cert: Vec<u8>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(client_pem: &str) -> Plugin {
    let mut child = Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", client_pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line: {line:?}");
    assert_eq!(&parts[..3], ["1", "6", "unix"]);
    assert_eq!(parts[4], "grpc");
    assert!(!parts[5].contains('='), "certificate is unpadded base64");
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .unwrap();
    Plugin {
        child,
        socket: parts[3].to_string(),
        server_cert,
    }
}

/// Accepts exactly the server certificate from the handshake line, as Terraform does.
#[derive(Debug)]
struct PinnedServer(Vec<u8>, rustls::crypto::WebPkiSupportedAlgorithms);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "unexpected server certificate".into(),
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.supported_schemes()
    }
}

async fn channel(plugin: &Plugin, client_cert: Option<(&[u8], &[u8])>) -> Result<Channel, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer(
        plugin.server_cert.clone(),
        provider.signature_verification_algorithms,
    ));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(cert.to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = plugin.socket.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower_fn(move |_: Uri| {
            let connector = connector.clone();
            let socket = socket.clone();
            async move {
                let stream = UnixStream::connect(socket).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), stream)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .map_err(|e| format!("{e:?}"))
}

/// A minimal `tower::service_fn`.
fn tower_fn<F>(f: F) -> TowerFn<F> {
    TowerFn(f)
}
#[derive(Clone)]
struct TowerFn<F>(F);
impl<F, Fut, T> tower_service::Service<Uri> for TowerFn<F>
where
    F: Fn(Uri) -> Fut,
    Fut: std::future::Future<Output = Result<T, std::io::Error>>,
{
    type Response = T;
    type Error = std::io::Error;
    type Future = Fut;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, uri: Uri) -> Fut {
        (self.0)(uri)
    }
}

async fn health(ch: Channel) -> Result<i32, tonic::Status> {
    let r = HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(r.into_inner().status)
}

#[tokio::test]
async fn mutual_tls_requires_terraforms_client_certificate() {
    let (pem, der, key) = go_plugin_style_cert();
    let plugin = start(&pem);

    // Terraform's certificate (P-521, as go-plugin makes it) is accepted.
    let ch = channel(&plugin, Some((&der, &key)))
        .await
        .expect("connect with the right certificate");
    assert_eq!(health(ch.clone()).await.unwrap(), 1, "plugin is SERVING");
    let schema = ProviderClient::new(ch.clone())
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("localfs_file"));
    assert!(schema.data_source_schemas.contains_key("localfs_file"));

    // No client certificate: refused.
    let refused = match channel(&plugin, None).await {
        Err(_) => true,
        Ok(ch) => health(ch).await.is_err(),
    };
    assert!(refused, "a client without a certificate must be refused");

    // Some other certificate: refused.
    let (_, other_der, other_key) = go_plugin_style_cert();
    let refused = match channel(&plugin, Some((&other_der, &other_key))).await {
        Err(_) => true,
        Ok(ch) => health(ch).await.is_err(),
    };
    assert!(refused, "a client with another certificate must be refused");

    // Controller Shutdown makes the process exit promptly.
    let mut plugin = plugin;
    GrpcControllerClient::new(ch)
        .shutdown(Empty {})
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "did not exit within go-plugin's 2 s grace"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !std::path::Path::new(&plugin.socket).exists(),
        "socket file removed"
    );
}

#[test]
fn run_by_hand_explains_itself() {
    let out = Command::new(BIN)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("This binary is a plugin"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn refuses_hosts_without_protocol_6() {
    let out = Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocol 6"));
}

/// Runs the plugin with `env` until it exits (killing it after 10 s: a plugin that
/// accepted its environment would serve forever) and returns its output.
fn run_to_exit(env: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the plugin kept running (stdout {:?}); it should have refused its environment",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Exits non-zero before printing a handshake line, saying why on stderr.
fn assert_refused(out: &std::process::Output, names: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no handshake line: {:?}", out.stdout);
    assert!(stderr.contains(names), "{stderr}");
}

#[test]
fn refuses_a_client_certificate_that_is_pem_around_garbage() {
    use base64::engine::general_purpose::STANDARD;
    // Valid PEM armour and base64, but the DER inside is not a certificate.
    for inner in [
        b"garbage, not a certificate".to_vec(),
        // A truncated real certificate.
        go_plugin_style_cert().1[..100].to_vec(),
    ] {
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(&inner)
        );
        let out = run_to_exit(&[("PLUGIN_CLIENT_CERT", pem.as_ref())]);
        assert_refused(&out, "PLUGIN_CLIENT_CERT");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("X.509"), "{stderr}");
    }
    // Not UTF-8 at all.
    use std::os::unix::ffi::OsStrExt;
    let out = run_to_exit(&[(
        "PLUGIN_CLIENT_CERT",
        std::ffi::OsStr::from_bytes(b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n"),
    )]);
    assert_refused(&out, "PLUGIN_CLIENT_CERT");
}

#[test]
fn refuses_protocol_versions_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let out = run_to_exit(&[(
        "PLUGIN_PROTOCOL_VERSIONS",
        std::ffi::OsStr::from_bytes(b"5,6\xff"),
    )]);
    assert_refused(&out, "PLUGIN_PROTOCOL_VERSIONS");
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
}
