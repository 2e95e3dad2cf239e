//! The built-in feed's package repository, through `octopus-client` against
//! real servers: overwrite modes, file names, hashes checked by `sha1sum` and
//! `sha256sum`, malicious archives, version ranges, size limits, flat memory
//! during a large streamed upload (real `octopus-lite` process) and a kill
//! during an upload.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, KEY, TestServer, client_for, start, start_with};
use octopus_client::model::package::Package;
use octopus_client::{Client, OverwriteMode, PackageListOptions, Uploaded};
use zip::write::SimpleFileOptions;

const SPACE: &str = "Spaces-1";

// ---------------------------------------------------------------- archives

/// A real zip with the given `(name, contents)` entries (deflated).
fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A small valid zip whose contents depend on `seed`.
fn sample_zip(seed: &str) -> Vec<u8> {
    zip_bytes(&[
        ("app/readme.txt", format!("package {seed}\n").as_bytes()),
        ("app/bin/run.sh", b"#!/bin/sh\necho hello\n"),
    ])
}

/// A tar header with the raw `name`/`link` written into the header bytes,
/// bypassing the `tar` crate's path checks as an attacker would.
fn raw_tar_header(name: &str, ty: tar::EntryType, size: u64, link: &str) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(0o644);
    let old = h.as_old_mut();
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    h
}

fn tar_bytes(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, ty, data, link) in entries {
        let h = raw_tar_header(name, *ty, data.len() as u64, link);
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tar stream of one `size`-byte file of pseudo-random bytes, generated
/// in 1 MiB chunks (never held whole), with the exact total length.
fn generated_tar(size: u64) -> (u64, impl tokio_stream::Stream<Item = io::Result<Vec<u8>>>) {
    let header = raw_tar_header("big/data.bin", tar::EntryType::Regular, size, "");
    let pad = (512 - size % 512) % 512;
    let total = 512 + size + pad + 1024;
    const CHUNK: u64 = 1 << 20;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let chunks = (0..size.div_ceil(CHUNK)).map(move |i| {
        let n = CHUNK.min(size - i * CHUNK) as usize;
        let mut v = vec![0u8; n];
        // xorshift: cheap, incompressible enough, deterministic.
        for w in v.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = state.to_le_bytes();
            w.copy_from_slice(&b[..w.len()]);
        }
        Ok(v)
    });
    let stream = std::iter::once(Ok(header.as_bytes().to_vec()))
        .chain(chunks)
        .chain(std::iter::once(Ok(vec![0u8; (pad + 1024) as usize])));
    (total, tokio_stream::iter(stream))
}

// ---------------------------------------------------------------- helpers

/// `n` incompressible pseudo-random bytes (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.extend_from_slice(&state.to_le_bytes());
    }
    v.truncate(n);
    v
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

async fn upload(
    client: &Client,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: OverwriteMode,
) -> Result<Uploaded, octopus_client::Error> {
    let src = tempfile::tempdir_in(dir).unwrap();
    let path = write_file(src.path(), name, bytes);
    client
        .packages(SPACE)
        .upload_path(&path, mode, |_, _| {})
        .await
}

/// Files in the space's package directory: `(stored, temporary)`.
fn package_files(data_dir: &Path) -> (Vec<String>, Vec<String>) {
    let dir = data_dir.join("packages").join(SPACE);
    let mut stored = Vec::new();
    let mut temp = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                temp.push(name);
            } else {
                stored.push(name);
            }
        }
    }
    stored.sort();
    (stored, temp)
}

fn api_error(e: &octopus_client::Error) -> (u16, String, Vec<String>) {
    match e {
        octopus_client::Error::Api {
            status,
            message,
            errors,
        } => (*status, message.clone(), errors.clone()),
        other => panic!("expected an API error, got {other}"),
    }
}

fn digest(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().unwrap();
    assert!(out.status.success(), "{tool} failed");
    String::from_utf8(out.stdout).unwrap()[..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

async fn all_versions(t: &TestServer, package_id: &str, range: Option<&str>) -> Vec<String> {
    t.client
        .packages(SPACE)
        .versions(package_id, range)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.version)
        .collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn push_and_repush_under_each_overwrite_mode() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = sample_zip("first");
    let up = upload(
        &t.client,
        dir.path(),
        "MyApp.1.0.0.zip",
        &first,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    assert!(up.created);
    let p = &up.package;
    assert_eq!(p.id.as_deref(), Some("packages-MyApp.1.0.0"));
    assert_eq!(
        (
            p.package_id.as_str(),
            p.version.as_str(),
            p.file_extension.as_str()
        ),
        ("MyApp", "1.0.0", ".zip")
    );
    assert_eq!(p.package_size_bytes, first.len() as u64);
    assert_eq!(p.feed_id.as_deref(), Some("feeds-builtin"));
    assert_eq!(
        p.links.get("Raw").map(String::as_str),
        Some("/api/Spaces-1/packages/packages-MyApp.1.0.0/raw")
    );

    // FailIfExists (the default): 409 with Octopus' message; nothing changes.
    let second = sample_zip("second");
    let err = upload(
        &t.client,
        dir.path(),
        "MyApp.1.0.0.zip",
        &second,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap_err();
    let (status, message, errors) = api_error(&err);
    assert_eq!(status, 409);
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("OverwriteExisting"), "{message}");
    assert!(errors[0].contains("MyApp.1.0.0.zip"), "{errors:?}");
    // The same version written differently (1.0 = 1.0.0, other case) is the same package.
    let err = upload(
        &t.client,
        dir.path(),
        "myapp.1.0.zip",
        &second,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // IgnoreIfExists: 200 with the stored package, unchanged.
    let ignored = upload(
        &t.client,
        dir.path(),
        "MyApp.1.0.0.zip",
        &second,
        OverwriteMode::IgnoreIfExists,
    )
    .await
    .unwrap();
    assert!(!ignored.created);
    assert_eq!(ignored.package.hash, up.package.hash);

    // OverwriteExisting: 201, new contents.
    let replaced = upload(
        &t.client,
        dir.path(),
        "MyApp.1.0.0.zip",
        &second,
        OverwriteMode::OverwriteExisting,
    )
    .await
    .unwrap();
    assert!(replaced.created);
    assert_ne!(replaced.package.hash, up.package.hash);
    let got = t
        .client
        .packages(SPACE)
        .get("packages-MyApp.1.0.0")
        .await
        .unwrap();
    assert_eq!(got.hash, replaced.package.hash);
    let out = dir.path().join("download.zip");
    let n = t
        .client
        .packages(SPACE)
        .download_to("packages-MyApp.1.0.0", &out)
        .await
        .unwrap();
    assert_eq!(n, second.len() as u64);
    assert_eq!(std::fs::read(&out).unwrap(), second);
    // Exactly one stored file: the replaced one was removed, no temporary files.
    let (stored, temp) = package_files(t.dir.path());
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        stored[0].starts_with("MyApp.1.0.0@") && stored[0].ends_with(".zip"),
        "{stored:?}"
    );
    assert!(temp.is_empty(), "{temp:?}");
    let listed = t
        .client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total_results, 1);
    t.server.shutdown().await;
}

#[tokio::test]
async fn curl_style_raw_put_and_multipart_form_fields() {
    let t = start().await;
    let http = common::raw();
    let url = t.url();
    let zip = sample_zip("raw");
    // One-line push: PUT the file body to .../packages/raw/<file name>.
    let resp = http
        .put(format!(
            "{url}/api/{SPACE}/packages/raw/Build.Tool.2.1.0.zip"
        ))
        .header("X-Octopus-ApiKey", KEY)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let p: Package = resp.json().await.unwrap();
    assert_eq!(
        (p.package_id.as_str(), p.version.as_str()),
        ("Build.Tool", "2.1.0")
    );
    // Again with POST to the default-space form: duplicate → 409.
    let resp = http
        .post(format!("{url}/api/packages/raw/Build.Tool.2.1.0.zip"))
        .header("X-Octopus-ApiKey", KEY)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    // Legacy replace=true still replaces.
    let resp = http
        .put(format!(
            "{url}/api/{SPACE}/packages/raw/Build.Tool.2.1.0.zip?replace=true"
        ))
        .header("X-Octopus-ApiKey", KEY)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // Hand-made multipart as curl -F sends it, the mode as a form field after the file,
    // the part named "data" as in the Octopus docs' curl example.
    let multipart = |mode: &str| {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"Build.Tool.2.1.0.zip\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        );
        body.extend_from_slice(&zip);
        body.extend_from_slice(
            format!("\r\n--XyZ\r\nContent-Disposition: form-data; name=\"overwriteMode\"\r\n\r\n{mode}\r\n--XyZ--\r\n")
                .as_bytes(),
        );
        http.post(format!("{url}/api/{SPACE}/packages/raw"))
            .header("X-Octopus-ApiKey", KEY)
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(body)
    };
    assert_eq!(multipart("ignore").send().await.unwrap().status(), 200);
    assert_eq!(
        multipart("OverwriteExisting")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let resp = multipart("sometimes").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("overwriteMode"),
        "{body}"
    );

    // Not multipart at all, and multipart without a file part: clear 400s.
    let resp = http
        .post(format!("{url}/api/{SPACE}/packages/raw"))
        .header("X-Octopus-ApiKey", KEY)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["ErrorMessage"].as_str().unwrap().contains("multipart"),
        "{body}"
    );
    let resp = http
        .post(format!("{url}/api/{SPACE}/packages/raw"))
        .header("X-Octopus-ApiKey", KEY)
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body("--XyZ\r\nContent-Disposition: form-data; name=\"overwriteMode\"\r\n\r\nfail\r\n--XyZ--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("no file part"),
        "{body}"
    );
    // Without the API key: 401.
    let resp = http
        .put(format!("{url}/api/{SPACE}/packages/raw/Other.1.0.0.zip"))
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (stored, temp) = package_files(t.dir.path());
    assert_eq!((stored.len(), temp.len()), (1, 0), "{stored:?} {temp:?}");
    t.server.shutdown().await;
}

#[tokio::test]
async fn valid_and_invalid_file_names() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    let zip = sample_zip("names");
    let tar = tar_bytes(&[("a.txt", tar::EntryType::Regular, b"hi", "")]);
    let tgz = gzip(&tar);
    let valid: &[(&str, &[u8], &str, &str, &str)] = &[
        (
            "hello-world.1.0.0.zip",
            &zip,
            "hello-world",
            "1.0.0",
            ".zip",
        ),
        (
            "Foo.Bar.2.Baz.1.0.0.zip",
            &zip,
            "Foo.Bar.2.Baz",
            "1.0.0",
            ".zip",
        ),
        (
            "acme-web.1.4.0-beta.1.tar.gz",
            &tgz,
            "acme-web",
            "1.4.0-beta.1",
            ".tar.gz",
        ),
        ("app.1.2.tgz", &tgz, "app", "1.2.0", ".tgz"),
        (
            "my_tool.3.0.0+build.7.tar",
            &tar,
            "my_tool",
            "3.0.0+build.7",
            ".tar",
        ),
        ("Lib.1.0.0.nupkg", &zip, "Lib", "1.0.0", ".nupkg"),
        ("UPPER.1.0.0.ZIP", &zip, "UPPER", "1.0.0", ".zip"),
    ];
    for (name, bytes, id, version, ext) in valid {
        let up = upload(
            &t.client,
            dir.path(),
            name,
            bytes,
            OverwriteMode::FailIfExists,
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let p = up.package;
        assert_eq!(
            (
                p.package_id.as_str(),
                p.version.as_str(),
                p.file_extension.as_str()
            ),
            (*id, *version, *ext),
            "{name}"
        );
        assert_eq!(p.id.unwrap(), format!("packages-{id}.{version}"));
    }
    let invalid: &[(&str, &str)] = &[
        ("my app.1.0.0.zip", "contains ` ` at position 2"),
        ("MyApp.zip", "no version found"),
        ("MyApp.1.0.0.rar", "unsupported extension `.rar`"),
        ("MyApp.1.0.0", "unsupported extension"),
        ("1.0.zip", "package ID is empty"),
        ("-app.1.0.0.zip", "must start with a letter or digit"),
        ("app.1.x.zip", "no version found in `app.1.x`"),
        ("app..x.1.0.0.zip", "empty `.`-separated segment"),
    ];
    for (name, reason) in invalid {
        let err = upload(
            &t.client,
            dir.path(),
            name,
            &zip,
            OverwriteMode::FailIfExists,
        )
        .await
        .unwrap_err();
        let (status, message, errors) = api_error(&err);
        assert_eq!(status, 400, "{name}");
        assert!(
            message.contains("file name is not valid"),
            "{name}: {message}"
        );
        assert!(
            errors.iter().any(|e| e.contains(reason)),
            "{name}: {errors:?}"
        );
    }
    // A path instead of a bare name (as some browsers send) is refused too.
    let resp = common::raw()
        .put(format!(
            "{}/api/{SPACE}/packages/raw/a%2F..%2Fb.1.0.0.zip",
            t.url()
        ))
        .header("X-Octopus-ApiKey", KEY)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let listed = t
        .client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total_results, valid.len() as i64);
    let (stored, temp) = package_files(t.dir.path());
    assert_eq!((stored.len(), temp.len()), (valid.len(), 0));
    t.server.shutdown().await;
}

#[tokio::test]
async fn hashes_match_sha1sum_and_sha256sum() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    // ~4 MB of varied data, so the upload spans many chunks.
    let data = noise(4_000_000);
    let zip = zip_bytes(&[("data.bin", &data), ("small.txt", b"x")]);
    let path = write_file(dir.path(), "Hashed.2.0.0.zip", &zip);
    let mut calls = Vec::new();
    let up = t
        .client
        .packages(SPACE)
        .upload_path(&path, OverwriteMode::FailIfExists, |sent, total| {
            calls.push((sent, total))
        })
        .await
        .unwrap();
    assert_eq!(up.package.hash, digest("sha1sum", &path));
    assert_eq!(
        up.package.sha256.as_deref(),
        Some(digest("sha256sum", &path).as_str())
    );
    assert_eq!(up.package.package_size_bytes, zip.len() as u64);
    // Progress: increasing, ending at the file size.
    assert!(!calls.is_empty());
    assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "{calls:?}");
    assert_eq!(
        calls.last().copied(),
        Some((zip.len() as u64, Some(zip.len() as u64)))
    );
    // The stored file and a download hash the same.
    let out = dir.path().join("out.zip");
    t.client
        .packages(SPACE)
        .download_to("packages-Hashed.2.0.0", &out)
        .await
        .unwrap();
    assert_eq!(digest("sha1sum", &out), up.package.hash);
    assert_eq!(digest("sha256sum", &out), up.package.sha256.unwrap());
    // Raw download headers.
    let resp = common::raw()
        .get(format!(
            "{}/api/{SPACE}/packages/packages-Hashed.2.0.0/raw",
            t.url()
        ))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-length"], zip.len().to_string().as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"Hashed.2.0.0.zip\""
    );
    // Read the body: graceful shutdown waits for responses in flight.
    assert_eq!(resp.bytes().await.unwrap().len(), zip.len());
    t.server.shutdown().await;
}

#[tokio::test]
async fn malicious_and_mislabelled_archives_are_refused() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    let zip_escape = zip_bytes(&[("ok.txt", b"fine"), ("../../evil.sh", b"rm -rf /")]);
    let zip_absolute = zip_bytes(&[("/etc/cron.d/evil", b"* * * * * root sh")]);
    let tar_link_out = tar_bytes(&[
        ("app/ok.txt", tar::EntryType::Regular, b"fine", ""),
        (
            "app/passwd",
            tar::EntryType::Symlink,
            b"",
            "../../etc/passwd",
        ),
    ]);
    let tgz_dotdot = gzip(&tar_bytes(&[(
        "app/../../escape.txt",
        tar::EntryType::Regular,
        b"x",
        "",
    )]));
    let tar_through_link = tar_bytes(&[
        ("app/link", tar::EntryType::Symlink, b"", "sub"),
        ("app/link/x.txt", tar::EntryType::Regular, b"x", ""),
    ]);
    let cases: &[(&str, &[u8], &str)] = &[
        ("Evil.1.0.0.zip", &zip_escape, "../../evil.sh"),
        ("Evil.1.0.1.zip", &zip_absolute, "/etc/cron.d/evil"),
        ("Evil.1.0.2.tar", &tar_link_out, "../../etc/passwd"),
        ("Evil.1.0.3.tar.gz", &tgz_dotdot, "escape.txt"),
        ("Evil.1.0.4.tar", &tar_through_link, "app/link"),
        // What the extension says is not what the bytes are.
        ("Evil.1.0.5.zip", &tar_link_out, "not a valid zip"),
        ("Evil.1.0.6.tar.gz", b"just some text, not gzip", "gzip"),
        ("Evil.1.0.7.zip", b"", "not a valid zip"),
    ];
    for (name, bytes, detail) in cases {
        let err = upload(
            &t.client,
            dir.path(),
            name,
            bytes,
            OverwriteMode::FailIfExists,
        )
        .await
        .unwrap_err();
        let (status, message, errors) = api_error(&err);
        assert_eq!(status, 400, "{name}: {message}");
        assert!(message.contains("was refused"), "{name}: {message}");
        assert!(
            errors.iter().any(|e| e.contains(detail)),
            "{name}: {errors:?}"
        );
    }
    // Nothing listed, nothing left on disk.
    let listed = t
        .client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total_results, 0);
    assert_eq!(package_files(t.dir.path()), (vec![], vec![]));
    t.server.shutdown().await;
}

#[tokio::test]
async fn versions_sorted_by_semver_and_filtered_by_ranges() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    for v in [
        "0.9.0",
        "1.0.0",
        "1.2.0",
        "1.5.0-beta.1",
        "1.10.0",
        "2.0.0-rc.1",
        "2.0.0",
        "1.2.0-alpha",
    ] {
        upload(
            &t.client,
            dir.path(),
            &format!("Ranged.{v}.zip"),
            &sample_zip(v),
            OverwriteMode::FailIfExists,
        )
        .await
        .unwrap();
    }
    upload(
        &t.client,
        dir.path(),
        "Other.5.0.0.zip",
        &sample_zip("o"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    assert_eq!(
        all_versions(&t, "Ranged", None).await,
        [
            "2.0.0",
            "2.0.0-rc.1",
            "1.10.0",
            "1.5.0-beta.1",
            "1.2.0",
            "1.2.0-alpha",
            "1.0.0",
            "0.9.0"
        ]
    );
    // Package IDs match case-insensitively.
    assert_eq!(all_versions(&t, "ranged", None).await.len(), 8);
    // NuGet interval: pre-releases are ordinary points of the order.
    assert_eq!(
        all_versions(&t, "Ranged", Some("[1.0,2.0)")).await,
        [
            "2.0.0-rc.1",
            "1.10.0",
            "1.5.0-beta.1",
            "1.2.0",
            "1.2.0-alpha",
            "1.0.0"
        ]
    );
    assert_eq!(all_versions(&t, "Ranged", Some("[1.2]")).await, ["1.2.0"]);
    assert_eq!(
        all_versions(&t, "Ranged", Some("(,1.0]")).await,
        ["1.0.0", "0.9.0"]
    );
    // npm: pre-releases only when the comparator names one of the same version.
    assert_eq!(
        all_versions(&t, "Ranged", Some("^1.2")).await,
        ["1.10.0", "1.2.0"]
    );
    assert_eq!(
        all_versions(&t, "Ranged", Some(">=2.0.0-rc.1")).await,
        ["2.0.0", "2.0.0-rc.1"]
    );
    assert_eq!(
        all_versions(&t, "Ranged", Some("~1.5 || <1.0")).await,
        ["0.9.0"]
    );
    assert!(all_versions(&t, "Ranged", Some("^3")).await.is_empty());
    assert!(all_versions(&t, "Missing", None).await.is_empty());
    // includePreRelease=false and paging on the raw endpoint.
    let page: serde_json::Value = common::raw()
        .get(format!(
            "{}/api/{SPACE}/packages/Ranged/versions?includePreRelease=false&take=2",
            t.url()
        ))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["TotalResults"], 5);
    assert_eq!(page["Items"][0]["Version"], "2.0.0");
    assert_eq!(page["Items"][1]["Version"], "1.10.0");
    assert!(
        page["Links"]["Page.Next"]
            .as_str()
            .unwrap()
            .contains("skip=2")
    );
    // Bad ranges and IDs: 400 naming the problem.
    for (range, want) in [("[1.0,2.0", "NuGet"), ("^x.y", "`x.y`"), (">=1.0 <", "npm")] {
        let err = t
            .client
            .packages(SPACE)
            .versions("Ranged", Some(range))
            .await
            .unwrap_err();
        let (status, message, _) = api_error(&err);
        assert_eq!(status, 400, "{range}");
        assert!(
            message.starts_with("versionRange:") && message.contains(want),
            "{range}: {message}"
        );
    }
    let err = t
        .client
        .packages(SPACE)
        .versions("bad id", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    t.server.shutdown().await;
}

#[tokio::test]
async fn list_filter_latest_paging_get_and_delete() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "Web.1.0.0.zip",
        "Web.1.1.0.zip",
        "Web.1.10.0.zip",
        "Worker.2.0.0.zip",
        "Worker.2.0.1-beta.zip",
        "Db.0.1.0.zip",
    ] {
        upload(
            &t.client,
            dir.path(),
            name,
            &sample_zip(name),
            OverwriteMode::FailIfExists,
        )
        .await
        .unwrap();
    }
    let pkgs = t.client.packages(SPACE);
    let ids = |items: &[Package]| -> Vec<String> { items.iter().map(|p| p.file_name()).collect() };
    let all = pkgs.list(&Default::default()).await.unwrap();
    assert_eq!(all.item_type, "Package");
    assert_eq!(
        ids(&all.items),
        [
            "Db.0.1.0.zip",
            "Web.1.10.0.zip",
            "Web.1.1.0.zip",
            "Web.1.0.0.zip",
            "Worker.2.0.1-beta.zip",
            "Worker.2.0.0.zip"
        ]
    );
    let latest = pkgs
        .list(&PackageListOptions {
            latest: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&latest.items),
        ["Db.0.1.0.zip", "Web.1.10.0.zip", "Worker.2.0.1-beta.zip"]
    );
    let filtered = pkgs
        .list(&PackageListOptions {
            filter: Some("WOR".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.total_results, 2);
    // `_` and `%` are literal in filters.
    let none = pkgs
        .list(&PackageListOptions {
            filter: Some("%".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(none.total_results, 0);
    let exact = pkgs
        .list(&PackageListOptions {
            package_id: Some("web".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exact.total_results, 3);
    let page = pkgs
        .list(&PackageListOptions {
            skip: Some(2),
            take: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), ["Web.1.1.0.zip", "Web.1.0.0.zip"]);
    assert_eq!((page.total_results, page.number_of_pages), (6, 3));
    assert!(page.next_link().unwrap().contains("skip=4"));

    // Get is case-insensitive; unknown and malformed IDs are 404 and 400.
    let got = pkgs.get("PACKAGES-web.1.1.0").await.unwrap();
    assert_eq!(got.file_name(), "Web.1.1.0.zip");
    assert!(
        pkgs.get("packages-Web.9.9.9")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(pkgs.get("Web.1.1.0").await.unwrap_err().status(), Some(400));
    assert_eq!(
        pkgs.get("packages-a b").await.unwrap_err().status(),
        Some(400)
    );
    // Other spaces see nothing.
    let err = t
        .client
        .packages("Spaces-999")
        .list(&Default::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found());

    // Delete: 204, gone from lists, file removed, download 404.
    pkgs.delete("packages-Web.1.1.0").await.unwrap();
    assert!(
        pkgs.get("packages-Web.1.1.0")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        pkgs.delete("packages-Web.1.1.0")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let out = dir.path().join("gone.zip");
    assert!(
        pkgs.download_to("packages-Web.1.1.0", &out)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(!out.exists());
    let (stored, temp) = package_files(t.dir.path());
    assert_eq!((stored.len(), temp.len()), (5, 0));
    assert_eq!(
        pkgs.list(&Default::default()).await.unwrap().total_results,
        5
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn size_limit_is_enforced_while_streaming() {
    let t = start_with(|c| c.max_package_bytes = 100_000).await;
    let dir = tempfile::tempdir().unwrap();
    let small = sample_zip("small");
    upload(
        &t.client,
        dir.path(),
        "Small.1.0.0.zip",
        &small,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    let big_data = noise(300_000);
    let big = zip_bytes(&[("big.bin", &big_data)]);
    assert!(big.len() > 100_000);
    // Declared length over the limit (upload from a path).
    let err = upload(
        &t.client,
        dir.path(),
        "Big.1.0.0.zip",
        &big,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap_err();
    let (status, message, _) = api_error(&err);
    assert_eq!(status, 413);
    assert!(message.contains("100000 bytes"), "{message}");
    // No declared length: refused once the limit is crossed mid-stream.
    let chunks: Vec<io::Result<Vec<u8>>> = big.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let err = t
        .client
        .packages(SPACE)
        .upload_stream(
            "Big.1.0.0.zip",
            tokio_stream::iter(chunks),
            None,
            OverwriteMode::FailIfExists,
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    let (stored, temp) = package_files(t.dir.path());
    assert_eq!((stored.len(), temp.len()), (1, 0), "{stored:?} {temp:?}");
    t.server.shutdown().await;
}

// ------------------------------------------------ real process: memory and kill

struct Proc {
    child: Child,
    url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(dir: &Path) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_octopus-lite"))
        .args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("octopus-lite listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    Proc { child, url }
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Size of the streamed package: 1 GiB, or `OCTOPUS_BIG_UPLOAD_MIB` MiB. (Debug
/// builds compile the digests and the tar reader optimized, see the workspace
/// `Cargo.toml`, so this takes seconds, not minutes.)
fn big_upload_bytes() -> u64 {
    std::env::var("OCTOPUS_BIG_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1024)
        << 20
}

async fn large_upload_keeps_memory_flat(size: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(dir.path());
    let client = client_for(&server.url, KEY);
    // Warm up (first request, thread pools) before the baseline.
    upload(
        &client,
        dir.path(),
        "Warm.1.0.0.zip",
        &sample_zip("w"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    let pid = server.child.id();
    let (base_rss, _) = memory_kib(pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut peak = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory_kib(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        }
    });
    let (len, stream) = generated_tar(size);
    let started = Instant::now();
    let up = client
        .packages(SPACE)
        .upload_stream(
            "Big.1.0.0.tar",
            stream,
            Some(len),
            OverwriteMode::FailIfExists,
            |_, _| {},
        )
        .await
        .unwrap();
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_rss = sampler.join().unwrap();
    let (_, hwm) = memory_kib(pid);
    assert!(up.created);
    assert_eq!(up.package.package_size_bytes, len);
    // The stored file is what was sent: check it with the system tools.
    let (stored, temp) = package_files(dir.path());
    assert!(temp.is_empty());
    let file = stored.iter().find(|f| f.starts_with("Big.1.0.0@")).unwrap();
    let path = dir.path().join("packages").join(SPACE).join(file);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert_eq!(digest("sha1sum", &path), up.package.hash);
    eprintln!(
        "uploaded {} MiB in {:.1} s ({:.0} MB/s); server RSS {} MiB before, peak {} MiB during, VmHWM {} MiB",
        len >> 20,
        elapsed.as_secs_f64(),
        len as f64 / 1e6 / elapsed.as_secs_f64(),
        base_rss >> 10,
        peak_rss >> 10,
        hwm >> 10
    );
    let growth = peak_rss.max(hwm).saturating_sub(base_rss);
    assert!(
        growth < 32 << 10,
        "server memory grew by {growth} KiB during a {} MiB upload",
        len >> 20
    );
    assert!(hwm < 64 << 10, "server VmHWM {hwm} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_streamed_upload_keeps_server_memory_flat() {
    large_upload_keeps_memory_flat(big_upload_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_upload_leaves_no_half_package_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn_server(dir.path());
    let client = client_for(&server.url, KEY);
    upload(
        &client,
        dir.path(),
        "Keep.1.0.0.zip",
        &sample_zip("keep"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    // Stream a large package; kill -9 the server once part of it is on disk.
    let (len, stream) = generated_tar(512 << 20);
    let (reached, mut reached_rx) = tokio::sync::watch::channel(false);
    let upload_task = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .packages(SPACE)
                .upload_stream(
                    "Half.1.0.0.tar",
                    stream,
                    Some(len),
                    OverwriteMode::FailIfExists,
                    move |sent, _| {
                        if sent > 32 << 20 {
                            reached.send_replace(true);
                        }
                    },
                )
                .await
        }
    });
    reached_rx.wait_for(|r| *r).await.unwrap();
    // Wait until the temporary file has data in it, then kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, temp) = package_files(dir.path());
        let written = temp
            .iter()
            .map(|t| {
                std::fs::metadata(dir.path().join("packages").join(SPACE).join(t))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        if written > 1 << 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no temporary upload file appeared"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(upload_task.await.unwrap().is_err());
    let (_, temp) = package_files(dir.path());
    assert_eq!(temp.len(), 1, "the killed upload left its temporary file");
    // Also simulate a crash after the rename but before the commit: a complete
    // file that no row refers to.
    let orphan = dir
        .path()
        .join("packages")
        .join(SPACE)
        .join("Orphan.1.0.0@0123456789ab.zip");
    std::fs::write(&orphan, sample_zip("orphan")).unwrap();
    drop(server);

    let server = spawn_server(dir.path());
    let client = client_for(&server.url, KEY);
    let listed = client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    let names: Vec<String> = listed.items.iter().map(|p| p.file_name()).collect();
    assert_eq!(names, ["Keep.1.0.0.zip"]);
    assert!(
        client
            .packages(SPACE)
            .get("packages-Half.1.0.0")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let (stored, temp) = package_files(dir.path());
    assert!(temp.is_empty(), "{temp:?}");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with("Keep.1.0.0@"));
    // The kept package is intact and the same upload now succeeds.
    let out = dir.path().join("keep.zip");
    client
        .packages(SPACE)
        .download_to("packages-Keep.1.0.0", &out)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), sample_zip("keep"));
    upload(
        &client,
        dir.path(),
        "Half.1.0.0.zip",
        &sample_zip("half"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
}

// ------------------------------------------------ space deletion and Octopus zips

/// Entries (files and directories) under `packages/`, relative to it.
fn package_tree(data_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            }
            out.push(name);
        }
    }
    let mut out = Vec::new();
    walk(&data_dir.join("packages"), "", &mut out);
    out.sort();
    out
}

/// Creates a space, pushes one package into it and stops its task queue.
async fn space_with_package(client: &Client, dir: &Path, name: &str) -> String {
    let mut space = client
        .spaces()
        .create(&octopus_client::model::Space::new(name))
        .await
        .unwrap();
    let id = space.id.clone().unwrap();
    let src = tempfile::tempdir_in(dir).unwrap();
    let path = write_file(src.path(), "App.1.0.0.zip", &sample_zip(name));
    client
        .packages(&id)
        .upload_path(&path, OverwriteMode::FailIfExists, |_, _| {})
        .await
        .unwrap();
    space.task_queue_stopped = true;
    client.spaces().update(&space).await.unwrap();
    id
}

#[tokio::test]
async fn deleting_a_space_removes_its_package_files_at_once() {
    let t = start().await;
    let dir = t.dir.path();
    upload(
        &t.client,
        dir,
        "Stays.1.0.0.zip",
        &sample_zip("stays"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    let gone = space_with_package(&t.client, dir, "Going").await;
    assert!(dir.join("packages").join(&gone).is_dir());
    t.client.spaces().delete(&gone).await.unwrap();
    // No directory of the deleted space, no leftover of its removal; the other
    // space's package is untouched.
    let tree = package_tree(dir);
    assert_eq!(tree.len(), 2, "{tree:?}");
    assert_eq!(tree[0], SPACE);
    assert!(
        tree[1].starts_with(&format!("{SPACE}/Stays.1.0.0@")),
        "{tree:?}"
    );
    let listed = t
        .client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn a_space_delete_cut_short_by_a_crash_is_finished_at_start() {
    let t = start().await;
    let dir = t.dir.path().to_owned();
    upload(
        &t.client,
        &dir,
        "Stays.1.0.0.zip",
        &sample_zip("stays"),
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    let before_rename = space_with_package(&t.client, &dir, "Crashed early").await;
    let mid_removal = space_with_package(&t.client, &dir, "Crashed late").await;
    let TestServer {
        server, dir: tmp, ..
    } = t;
    server.shutdown().await;
    // A crash right after the delete committed: the space and (by trigger) its
    // package rows are gone, its directory is still in place.
    let db = rusqlite::Connection::open(dir.join("octopus-lite.db")).unwrap();
    db.execute(
        "DELETE FROM documents WHERE kind = 'spaces' AND space_id = '' AND id = ?1",
        [&before_rename],
    )
    .unwrap();
    // A crash while the renamed directory was being emptied.
    db.execute(
        "DELETE FROM documents WHERE kind = 'spaces' AND space_id = '' AND id = ?1",
        [&mid_removal],
    )
    .unwrap();
    drop(db);
    let packages = dir.join("packages");
    let tomb = packages.join(format!(".deleted-{mid_removal}-0123456789ab"));
    std::fs::rename(packages.join(&mid_removal), &tomb).unwrap();
    std::fs::write(tomb.join(".tmp-0123"), b"half").unwrap();
    assert_eq!(package_tree(&dir).len(), 7, "{:?}", package_tree(&dir));

    let t = start_with(|c| c.data_dir = dir.clone()).await;
    let tree = package_tree(&dir);
    assert_eq!(tree.len(), 2, "{tree:?}");
    assert!(
        tree[1].starts_with(&format!("{SPACE}/Stays.1.0.0@")),
        "{tree:?}"
    );
    let listed = t
        .client
        .packages(SPACE)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    drop(tmp);
}

/// The zip Octopus' TypeScript client (`ZipPackageBuilder`, via adm-zip) writes,
/// byte by byte: every entry marked deflated (method 8), directories and empty files
/// with no data at all, no data descriptors.
fn octopus_client_style_zip() -> Vec<u8> {
    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn crc(data: &[u8]) -> u32 {
        let mut c = flate2::Crc::new();
        c.update(data);
        c.sum()
    }
    let index = b"<html>hello</html>\n";
    let dir_attrs: u32 = (0o40755 << 16) | 0x10;
    let file_attrs: u32 = 0o100644 << 16;
    let entries: [(&str, Vec<u8>, u32, u32, u32); 4] = [
        ("site/", Vec::new(), 0, 0, dir_attrs),
        ("site/css/", Vec::new(), 0, 0, dir_attrs),
        (
            "site/index.html",
            deflate(index),
            crc(index),
            index.len() as u32,
            file_attrs,
        ),
        ("site/css/.keep", Vec::new(), 0, 0, file_attrs),
    ];
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data, crc, size, attrs) in &entries {
        let offset = out.len() as u32;
        let mut common = Vec::new();
        for v in [20u16, 0, 8, 0, 0x21] {
            common.extend_from_slice(&v.to_le_bytes()); // version, flags, method, time, date
        }
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&0x0314u16.to_le_bytes());
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&attrs.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[tokio::test]
async fn zips_from_octopus_zip_package_builder_are_accepted() {
    let t = start().await;
    let bytes = octopus_client_style_zip();
    let up = upload(
        &t.client,
        t.dir.path(),
        "Site.1.0.0.zip",
        &bytes,
        OverwriteMode::FailIfExists,
    )
    .await
    .unwrap();
    assert!(up.created);
    assert_eq!(up.package.package_size_bytes, bytes.len() as u64);
    // Octopus' client requires these on packages; null when there is no metadata.
    let json: serde_json::Value = common::raw()
        .get(format!(
            "{}/api/{SPACE}/packages/packages-Site.1.0.0",
            t.url()
        ))
        .header("X-Octopus-ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in ["Description", "ReleaseNotes", "Summary"] {
        assert!(json.as_object().unwrap().contains_key(key), "{key}: {json}");
    }
}
