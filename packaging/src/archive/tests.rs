//! Real (and deliberately malicious) archives built with the `zip`, `tar` and `flate2` crates.

use super::*;
use std::io::Write;
use std::path::PathBuf;

use zip::write::SimpleFileOptions;

enum Z<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Link(&'a str, &'a str),
}

fn zip_bytes(entries: &[Z<'_>]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for e in entries {
        match e {
            Z::File(name, data) => {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            Z::Dir(name) => w.add_directory(*name, opts).unwrap(),
            Z::Link(name, target) => w.add_symlink(*name, *target, opts).unwrap(),
        }
    }
    w.finish().unwrap().into_inner()
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn zip_file(entries: &[Z<'_>]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "p.1.0.0.zip", &zip_bytes(entries));
    (dir, p)
}

fn check_zip(entries: &[Z<'_>], limits: &ArchiveLimits) -> Result<ArchiveSummary, ArchiveError> {
    let (_dir, p) = zip_file(entries);
    inspect(&p, PackageFormat::Zip, limits)
}

fn expect_err(r: Result<ArchiveSummary, ArchiveError>, want: &str) -> ArchiveError {
    let e = r.expect_err(want);
    assert!(e.to_string().contains(want), "`{e}` lacks `{want}`");
    e
}

/// A tar header with the raw `name` written straight into the header bytes, bypassing the
/// `tar` crate's own path checks (an attacker's archive would not use them either).
fn raw_header(name: &str, ty: tar::EntryType, size: u64, link: &str) -> tar::Header {
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

enum T<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Char(&'a str),
}

fn tar_bytes(entries: &[T<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            T::File(n, d) => {
                let h = raw_header(n, tar::EntryType::Regular, d.len() as u64, "");
                b.append(&h, *d).unwrap();
            }
            T::Dir(n) => b
                .append(
                    &raw_header(n, tar::EntryType::Directory, 0, ""),
                    io::empty(),
                )
                .unwrap(),
            T::Symlink(n, l) => b
                .append(&raw_header(n, tar::EntryType::Symlink, 0, l), io::empty())
                .unwrap(),
            T::HardLink(n, l) => b
                .append(&raw_header(n, tar::EntryType::Link, 0, l), io::empty())
                .unwrap(),
            T::Char(n) => b
                .append(&raw_header(n, tar::EntryType::Char, 0, ""), io::empty())
                .unwrap(),
        }
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Inspects the entries as a .tar.gz file and as a plain tar, each both from a
/// seekable reader and as a stream; all four must agree.
fn check_tgz(entries: &[T<'_>], limits: &ArchiveLimits) -> Result<ArchiveSummary, ArchiveError> {
    let tar = tar_bytes(entries);
    let tgz = gzip(&tar);
    let from_file = inspect_reader(io::Cursor::new(&tgz), PackageFormat::TarGz, limits);
    let outcome = |r: &Result<ArchiveSummary, ArchiveError>| match r {
        Ok(s) => format!("{s:?}"),
        Err(e) => e.to_string(),
    };
    let streamed = inspect_stream(&tgz[..], ArchiveKind::TarGz, limits);
    assert_eq!(outcome(&streamed), outcome(&from_file), "streamed .tar.gz");
    let plain = inspect_reader(io::Cursor::new(&tar), PackageFormat::Tar, limits);
    let plain_streamed = inspect_stream(&tar[..], ArchiveKind::Tar, limits);
    assert_eq!(outcome(&plain_streamed), outcome(&plain), "streamed tar");
    assert_eq!(plain.is_ok(), from_file.is_ok(), "tar and .tar.gz agree");
    from_file
}

fn lim() -> ArchiveLimits {
    ArchiveLimits::default()
}

#[test]
fn valid_zip_is_summarised() {
    let s = check_zip(
        &[
            Z::Dir("steps/"),
            Z::File("steps/hello/metadata.json", b"{}"),
            Z::File("./steps/hello/run.sh", b"#!/bin/sh\necho hi\n"),
            Z::Link("steps/hello/latest", "run.sh"),
            Z::Link("steps/hello/up", "../../README"),
            Z::File("README", b"readme"),
        ],
        &lim(),
    )
    .unwrap();
    let paths: Vec<&str> = s.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "steps",
            "steps/hello/metadata.json",
            "steps/hello/run.sh",
            "steps/hello/latest",
            "steps/hello/up",
            "README"
        ]
    );
    assert_eq!(s.total_size, 2 + 18 + 6);
    assert_eq!(s.file_count(), 3);
    assert_eq!(
        s.entry("steps/hello/latest").unwrap().kind,
        EntryKind::Symlink {
            target: "run.sh".into()
        }
    );
}

#[test]
fn zip_paths_that_escape_are_refused() {
    for (name, why) in [
        ("../evil.txt", "`..` component"),
        ("a/../../evil.txt", "`..` component"),
        ("/etc/passwd", "absolute"),
        ("\\windows\\system32", "absolute"),
        ("..\\evil.txt", "`..` component"),
        ("C:\\evil.txt", "Windows drive"),
        ("c:evil.txt", "Windows drive"),
        ("file.txt:stream", "Windows drive or stream"),
        (".. /evil.txt", "only dots and spaces"),
        ("a/.../b", "only dots and spaces"),
        ("a\\..\u{20}\u{20}\\evil", "only dots and spaces"),
    ] {
        let e = expect_err(check_zip(&[Z::File(name, b"x")], &lim()), why);
        assert!(matches!(e, ArchiveError::UnsafePath { .. }), "{name}: {e}");
    }
}

#[test]
fn zip_links_that_escape_are_refused() {
    for (name, target, why) in [
        ("link", "../outside", "climbs above the archive root"),
        ("a/b/link", "../../../x", "climbs above the archive root"),
        ("link", "/etc/passwd", "absolute"),
        ("link", "\\\\server\\share", "absolute"),
        ("d/s", "x/../..", "`..` after a name"),
        ("link", "C:/Windows", "Windows drive"),
        ("link", ". ./x", "only dots and spaces"),
    ] {
        let e = expect_err(check_zip(&[Z::Link(name, target)], &lim()), why);
        assert!(matches!(e, ArchiveError::UnsafeLink { .. }), "{e}");
    }
    // Writing through an in-archive link is refused even when the link stays inside.
    expect_err(
        check_zip(&[Z::Link("sub", "real"), Z::File("sub/file", b"x")], &lim()),
        "lies below the symbolic link `sub`",
    );
}

#[test]
fn zip_bombs_are_stopped_by_decompressed_bytes() {
    let zeros = vec![0u8; 4 << 20];
    let (_dir, p) = zip_file(&[Z::File("a", &zeros), Z::File("b", &zeros)]);
    // The file on disk is tiny; the limits apply to what decompresses.
    assert!(std::fs::metadata(&p).unwrap().len() < 64 * 1024);
    let total = ArchiveLimits {
        max_total_size: 6 << 20,
        ..lim()
    };
    expect_err(
        inspect(&p, PackageFormat::Zip, &total),
        "more than the limit of 6291456",
    );
    let per_entry = ArchiveLimits {
        max_entry_size: 1 << 20,
        ..lim()
    };
    expect_err(
        inspect(&p, PackageFormat::Zip, &per_entry),
        "entry `a` is larger",
    );
    let s = inspect(&p, PackageFormat::Zip, &lim()).unwrap();
    assert_eq!(s.total_size, 8 << 20);
}

#[test]
fn zip_entry_count_limit() {
    let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
    let entries: Vec<Z<'_>> = names.iter().map(|n| Z::File(n, b"")).collect();
    let limits = ArchiveLimits {
        max_entries: 10,
        ..lim()
    };
    expect_err(check_zip(&entries, &limits), "more than 10 entries");
    check_zip(&entries[..10], &limits).unwrap();
}

#[test]
fn wrong_container_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = gzip(&tar_bytes(&[T::File("a", b"x")]));
    let p = write_tmp(&dir, "x.zip", &tgz);
    expect_err(
        inspect(&p, PackageFormat::Zip, &lim()),
        "not a valid zip archive: it starts with bytes 1f8b",
    );
    let p = write_tmp(&dir, "x.tgz", &zip_bytes(&[Z::File("a", b"x")]));
    expect_err(
        inspect(&p, PackageFormat::Tgz, &lim()),
        "not a valid gzip-compressed tar archive: it starts with bytes 504b0304 (a zip archive)",
    );
    let p = write_tmp(&dir, "x.tar", &[7u8; 2048]);
    expect_err(
        inspect(&p, PackageFormat::Tar, &lim()),
        "not a valid tar archive",
    );
    let p = write_tmp(&dir, "x.tar.gz", &gzip(b"just some text, not a tar"));
    expect_err(
        inspect(&p, PackageFormat::TarGz, &lim()),
        "not a valid gzip-compressed tar",
    );
    let p = write_tmp(&dir, "empty.zip", b"");
    expect_err(inspect(&p, PackageFormat::Zip, &lim()), "the file is empty");
    let p = write_tmp(&dir, "empty.tar", b"");
    expect_err(
        inspect(&p, PackageFormat::Tar, &lim()),
        "too short for a tar archive",
    );
    // A zip whose central directory is cut off.
    let z = zip_bytes(&[Z::File("a", b"hello")]);
    let p = write_tmp(&dir, "cut.zip", &z[..z.len() - 10]);
    expect_err(
        inspect(&p, PackageFormat::Zip, &lim()),
        "not a valid zip archive",
    );
    let missing = dir.path().join("missing.zip");
    expect_err(
        inspect(&missing, PackageFormat::Zip, &lim()),
        "could not read the archive",
    );
}

#[test]
fn corrupt_zip_data_fails_the_crc() {
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("data.bin", stored).unwrap();
    w.write_all(&data).unwrap();
    let mut bytes = w.finish().unwrap().into_inner();
    // Flip one byte in the middle of the stored data.
    bytes[30 + "data.bin".len() + 10_000] ^= 0xff;
    let e = inspect_reader(io::Cursor::new(bytes), PackageFormat::Zip, &lim()).unwrap_err();
    assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("at entry `data.bin`"), "{e}");
}

#[test]
fn valid_tar_gz_and_tar() {
    let entries = [
        T::Dir("./"),
        T::Dir("./bin/"),
        T::File("./bin/tool", b"#!/bin/sh\n"),
        T::Symlink("./bin/tool-link", "tool"),
        T::HardLink("./bin/tool-hard", "bin/tool"),
        T::Symlink("./lib/../x", "bin"),
    ];
    // The last entry has `..`: drop it for the valid case.
    let s = check_tgz(&entries[..5], &lim()).unwrap();
    let paths: Vec<&str> = s.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["bin", "bin/tool", "bin/tool-link", "bin/tool-hard"]);
    assert_eq!(s.total_size, 10);
    assert_eq!(
        s.entries[3].kind,
        EntryKind::HardLink {
            target: "bin/tool".into()
        }
    );
    let plain = inspect_reader(
        io::Cursor::new(tar_bytes(&entries[..5])),
        PackageFormat::Tar,
        &lim(),
    )
    .unwrap();
    assert_eq!(plain, s);
    expect_err(check_tgz(&entries, &lim()), "`..` component");
}

#[test]
fn tar_escapes_and_specials_are_refused() {
    let cases: Vec<(Vec<T<'_>>, &str)> = vec![
        (vec![T::File("../evil", b"x")], "`..` component"),
        (vec![T::File("/etc/cron.d/evil", b"x")], "absolute"),
        (vec![T::File("a\\..\\..\\evil", b"x")], "`..` component"),
        (vec![T::Symlink("link", "/etc")], "absolute"),
        (vec![T::Symlink("a/link", "../../etc")], "climbs above"),
        (vec![T::HardLink("h", "/etc/shadow")], "absolute"),
        (vec![T::HardLink("h", "../x")], "`..` component"),
        (vec![T::HardLink("h", "not-there")], "earlier regular file"),
        (
            vec![T::Symlink("l", "x"), T::HardLink("h", "l")],
            "earlier regular file",
        ),
        (
            vec![T::Char("dev/null")],
            "tar entry type Char is not allowed",
        ),
        (
            vec![T::File("a", b"1"), T::File("a", b"2")],
            "the same path appears twice",
        ),
        (
            vec![T::File("a", b"1"), T::File("a/b", b"2")],
            "a parent of this path is a file",
        ),
        (
            vec![T::Symlink("etc", "sub"), T::File("etc/passwd", b"x")],
            "below the symbolic link `etc`",
        ),
        (
            vec![T::File("etc/passwd", b"x"), T::Symlink("etc", "sub")],
            "below the symbolic link `etc`",
        ),
    ];
    for (entries, want) in cases {
        expect_err(check_tgz(&entries, &lim()), want);
    }
    // Repeated directory entries are harmless.
    check_tgz(&[T::Dir("d/"), T::Dir("d/")], &lim()).unwrap();
}

#[test]
fn zip_cannot_be_inspected_as_a_stream() {
    let zip = zip_bytes(&[Z::File("a.txt", b"a")]);
    let e = inspect_stream(&zip[..], ArchiveKind::Zip, &lim()).unwrap_err();
    assert!(
        matches!(&e, ArchiveError::Io(io) if io.kind() == io::ErrorKind::Unsupported),
        "{e}"
    );
}

#[test]
fn tar_gz_bombs_and_truncation() {
    let big = vec![0u8; 3 << 20];
    let tgz = gzip(&tar_bytes(&[T::File("big", &big)]));
    assert!(tgz.len() < 64 * 1024);
    let limits = ArchiveLimits {
        max_total_size: 1 << 20,
        ..lim()
    };
    let e = inspect_reader(io::Cursor::new(&tgz), PackageFormat::TarGz, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            ArchiveError::TooLarge { .. } | ArchiveError::EntryTooLarge { .. }
        ),
        "{e}"
    );
    // Zeros after the end-of-archive marker are still decompressed and counted.
    let mut padded = tar_bytes(&[T::File("small", b"x")]);
    padded.extend(std::iter::repeat_n(0u8, 3 << 20));
    let e = inspect_reader(
        io::Cursor::new(gzip(&padded)),
        PackageFormat::TarGz,
        &limits,
    )
    .unwrap_err();
    assert!(matches!(e, ArchiveError::TooLarge { .. }), "{e}");
    // Cut-off gzip stream.
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let tgz = gzip(&tar_bytes(&[T::File("data", &data)]));
    let e = inspect_reader(
        io::Cursor::new(&tgz[..tgz.len() / 2]),
        PackageFormat::TarGz,
        &lim(),
    )
    .unwrap_err();
    assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    // A damaged gzip trailer (CRC) is noticed even though the tar itself was complete.
    let mut bad_crc = gzip(&tar_bytes(&[T::File("a", b"hello")]));
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let e = inspect_reader(io::Cursor::new(bad_crc), PackageFormat::TarGz, &lim()).unwrap_err();
    assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
}

#[test]
fn inspect_and_read_returns_wanted_files() {
    let (_dir, p) = zip_file(&[
        Z::File("a/metadata.json", b"{\"id\":1}"),
        Z::File("a/big.bin", &[1u8; 100]),
        Z::File("b/metadata.json", b"{}"),
    ]);
    let (summary, files) = inspect_and_read(
        &p,
        PackageFormat::Zip,
        &lim(),
        &|p| p.ends_with("metadata.json"),
        50,
    )
    .unwrap();
    assert_eq!(summary.entries.len(), 3);
    assert_eq!(files.len(), 2);
    assert_eq!(files["a/metadata.json"], b"{\"id\":1}");
    let e =
        inspect_and_read(&p, PackageFormat::Zip, &lim(), &|p| p.ends_with(".bin"), 50).unwrap_err();
    assert!(matches!(e, ArchiveError::ReadTooLarge { .. }), "{e}");
}

#[test]
fn path_normalisation() {
    assert_eq!(normalize_entry_path("./a//b/./c/").unwrap(), "a/b/c");
    assert_eq!(normalize_entry_path("a\\b").unwrap(), "a/b");
    assert_eq!(normalize_entry_path("./").unwrap(), "");
    assert!(normalize_entry_path("a\0b").unwrap_err().contains("NUL"));
    assert!(normalize_entry_path("").unwrap_err().contains("empty"));
    assert!(check_symlink_target("../../x", 2).is_ok());
    assert!(check_symlink_target("../../../x", 2).is_err());
    assert!(check_symlink_target("a/./b", 0).is_ok());
}

/// One raw tar member: a GNU header with `ty` and `size_field`, then `data` padded to 512.
fn member(name: &str, ty: u8, size_field: u64, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::new(ty));
    h.set_size(size_field);
    h.set_mode(0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn pax_record(key: &str, value: &str) -> String {
    // "<len> key=value\n" where len counts the whole record, its own digits included.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

#[test]
fn long_names_and_pax_headers_work() {
    let long = format!("{}/file.txt", "d".repeat(300));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let s = inspect_reader(io::Cursor::new(gzip(&bytes)), PackageFormat::TarGz, &lim()).unwrap();
    assert_eq!(s.entries[0].path, long);

    // A PAX header that renames the next member and overrides its size: the guard must stay
    // in step with the tar crate, or the oversized long name after it would slip through.
    let pax = pax_record("path", "renamed.txt") + &pax_record("size", "700");
    let mut raw = member("PaxHeaders/x", b'x', pax.len() as u64, pax.as_bytes());
    raw.extend(member("short.txt", b'0', 0, &[b'z'; 700]));
    raw.extend(member("after.txt", b'0', 2, b"ok"));
    let mut ok = raw.clone();
    ok.extend([0u8; 1024]);
    let s = inspect_reader(io::Cursor::new(ok), PackageFormat::Tar, &lim()).unwrap();
    let got: Vec<(&str, u64)> = s
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.size))
        .collect();
    assert_eq!(got, [("renamed.txt", 700), ("after.txt", 2)]);

    let huge = 8 << 20;
    raw.extend(member(
        "././@LongLink",
        b'L',
        huge,
        &vec![b'a'; huge as usize],
    ));
    raw.extend(member("x", b'0', 0, b""));
    raw.extend([0u8; 1024]);
    let compressed = gzip(&raw);
    assert!(compressed.len() < 64 * 1024);
    let e = inspect_reader(io::Cursor::new(compressed), PackageFormat::TarGz, &lim()).unwrap_err();
    assert!(
        e.to_string()
            .contains("long-name or PAX header member of 8388608 bytes is larger than the limit"),
        "{e}"
    );
}

#[test]
fn data_hidden_in_link_entries_is_counted() {
    let limits = ArchiveLimits {
        max_total_size: 1 << 20,
        ..lim()
    };
    let zeros = vec![0u8; 3 << 20];
    for (ty, link) in [
        (tar::EntryType::Symlink, "target"),
        (tar::EntryType::Link, "f"),
    ] {
        let mut b = tar::Builder::new(Vec::new());
        b.append(&raw_header("f", tar::EntryType::Regular, 1, ""), &b"x"[..])
            .unwrap();
        b.append(
            &raw_header("l", ty, zeros.len() as u64, link),
            zeros.as_slice(),
        )
        .unwrap();
        let tgz = gzip(&b.into_inner().unwrap());
        let e = inspect_reader(io::Cursor::new(tgz), PackageFormat::TarGz, &limits).unwrap_err();
        assert!(matches!(e, ArchiveError::TooLarge { .. }), "{ty:?}: {e}");
    }
}

#[test]
fn inconsistent_zip_directories_are_refused() {
    // Two central-directory entries sharing one entry's data: the overlap bomb trick.
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    w.start_file("a", SimpleFileOptions::default()).unwrap();
    w.write_all(&[0u8; 1000]).unwrap();
    w.shallow_copy_file("a", "b").unwrap();
    let shared = w.finish().unwrap().into_inner();
    let e = inspect_reader(io::Cursor::new(shared), PackageFormat::Zip, &lim()).unwrap_err();
    assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("header inconsistency"), "{e}");

    // Two central-directory entries with the same name (the zip crate would keep only one).
    let mut bytes = zip_bytes(&[Z::File("a", b"1"), Z::File("b", b"2")]);
    let cd: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(cd.len(), 2);
    assert_eq!(bytes[cd[1] + 46], b'b');
    bytes[cd[1] + 46] = b'a';
    let e = inspect_reader(io::Cursor::new(bytes), PackageFormat::Zip, &lim()).unwrap_err();
    assert!(e.to_string().contains("duplicate file names"), "{e}");
}

/// One entry of a hand-written zip: name, compression method, stored data, CRC-32 and
/// uncompressed size as the headers declare them.
struct RawZipEntry<'a> {
    name: &'a str,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u32,
    /// External attributes (MS-DOS directory bit 0x10, Unix mode in the high half).
    attrs: u32,
}

/// Writes a zip byte by byte the way adm-zip (used by Octopus' `ZipPackageBuilder` and
/// `NuGetPackageBuilder`) does: local header and data per entry, then the central
/// directory and the end record. No data descriptors, no extra fields.
fn raw_zip(entries: &[RawZipEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let name = e.name.as_bytes();
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes()); // version needed
            buf.extend_from_slice(&0u16.to_le_bytes()); // flags
            buf.extend_from_slice(&e.method.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // time
            buf.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
            buf.extend_from_slice(&e.crc.to_le_bytes());
            buf.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            buf.extend_from_slice(&e.size.to_le_bytes());
            buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&e.data);

        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&0x0314u16.to_le_bytes()); // made by: Unix, 2.0
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&e.attrs.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn deflated(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

const DIR_ATTRS: u32 = (0o40755 << 16) | 0x10;
const FILE_ATTRS: u32 = 0o100644 << 16;

#[test]
fn directories_marked_deflated_with_no_data_are_accepted() {
    // What Octopus' ZipPackageBuilder writes: adm-zip's directory entries carry no
    // bytes at all, and the builder then sets every entry's method to 8 (deflate).
    // Zero bytes are not a valid deflate stream, but unzip and Python extract them.
    let hello = b"hello from a deflated file\n";
    let bytes = raw_zip(&[
        RawZipEntry {
            name: "wwwroot/",
            method: 8,
            data: Vec::new(),
            crc: 0,
            size: 0,
            attrs: DIR_ATTRS,
        },
        RawZipEntry {
            name: "wwwroot/css/",
            method: 8,
            data: Vec::new(),
            crc: 0,
            size: 0,
            attrs: DIR_ATTRS,
        },
        RawZipEntry {
            name: "wwwroot/index.html",
            method: 8,
            data: deflated(hello),
            crc: crc32(hello),
            size: hello.len() as u32,
            attrs: FILE_ATTRS,
        },
        // An empty file written the same way: no bytes, marked deflated.
        RawZipEntry {
            name: "wwwroot/css/empty.css",
            method: 8,
            data: Vec::new(),
            crc: 0,
            size: 0,
            attrs: FILE_ATTRS,
        },
    ]);
    let s = inspect_reader(io::Cursor::new(bytes), PackageFormat::Zip, &lim()).unwrap();
    let kinds: Vec<(&str, &EntryKind)> = s
        .entries
        .iter()
        .map(|e| (e.path.as_str(), &e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("wwwroot", &EntryKind::Directory),
            ("wwwroot/css", &EntryKind::Directory),
            ("wwwroot/index.html", &EntryKind::File),
            ("wwwroot/css/empty.css", &EntryKind::File),
        ]
    );
    assert_eq!(s.total_size, hello.len() as u64);
}

#[test]
fn entries_without_data_must_declare_nothing() {
    // No bytes, yet a size or a checksum of something: that is a damaged entry.
    for (size, crc) in [(5, 0), (0, 0x1234_5678)] {
        let bytes = raw_zip(&[RawZipEntry {
            name: "a.txt",
            method: 8,
            data: Vec::new(),
            crc,
            size,
            attrs: FILE_ATTRS,
        }]);
        let e = inspect_reader(io::Cursor::new(bytes), PackageFormat::Zip, &lim()).unwrap_err();
        assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    }
}

// ---- extraction ----

fn fresh_dest(dir: &tempfile::TempDir) -> PathBuf {
    let d = dir.path().join("dest");
    std::fs::create_dir(&d).unwrap();
    d
}

/// Every file under `root`, relative, sorted, with `/` at the end of directories and
/// `-> target` for links.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if m.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn extract_zip_writes_files_dirs_and_exec_bits() {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.add_directory("empty/", opts).unwrap();
    w.start_file("app/run.sh", opts.unix_permissions(0o755))
        .unwrap();
    w.write_all(b"#!/bin/sh\necho hi\n").unwrap();
    w.start_file("app/readme.txt", opts.unix_permissions(0o600))
        .unwrap();
    w.write_all(&vec![b'x'; 100_000]).unwrap();
    w.start_file("top.txt", opts).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "p.1.0.0.nupkg", &bytes);
    let dest = fresh_dest(&dir);
    let s = extract(&p, PackageFormat::Nupkg, &dest, &ArchiveLimits::default()).unwrap();
    assert_eq!((s.files, s.directories, s.symlinks), (3, 1, 0));
    assert_eq!(s.total_size, 100_000 + 18);
    assert_eq!(
        tree(&dest),
        ["app/", "app/readme.txt", "app/run.sh", "empty/", "top.txt"]
    );
    assert_eq!(
        std::fs::read(dest.join("app/readme.txt")).unwrap().len(),
        100_000
    );
    assert_eq!(std::fs::read(dest.join("top.txt")).unwrap(), b"");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(dest.join(p))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_ne!(mode("app/run.sh") & 0o100, 0, "exec bit kept");
        assert_eq!(mode("app/readme.txt") & 0o111, 0);
        assert_ne!(mode("app/readme.txt") & 0o400, 0, "readable by the owner");
    }
}

#[test]
fn extract_tar_gz_and_tar_with_links() {
    let entries = [
        T::Dir("site"),
        T::File("site/index.html", b"<p>hi</p>"),
        T::Symlink("site/latest", "index.html"),
        T::HardLink("site/copy.html", "site/index.html"),
    ];
    for (name, bytes, format) in [
        (
            "p.1.0.0.tar.gz",
            gzip(&tar_bytes(&entries)),
            PackageFormat::TarGz,
        ),
        (
            "p.1.0.0.tgz",
            gzip(&tar_bytes(&entries)),
            PackageFormat::Tgz,
        ),
        ("p.1.0.0.tar", tar_bytes(&entries), PackageFormat::Tar),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = write_tmp(&dir, name, &bytes);
        let dest = fresh_dest(&dir);
        let s = extract(&p, format, &dest, &ArchiveLimits::default()).unwrap();
        assert_eq!((s.files, s.directories, s.symlinks), (2, 1, 1), "{name}");
        assert_eq!(
            tree(&dest),
            [
                "site/",
                "site/copy.html",
                "site/index.html",
                "site/latest -> index.html"
            ]
        );
        assert_eq!(
            std::fs::read(dest.join("site/latest")).unwrap(),
            b"<p>hi</p>"
        );
        assert_eq!(
            std::fs::read(dest.join("site/copy.html")).unwrap(),
            b"<p>hi</p>"
        );
    }
}

#[test]
fn extract_tar_keeps_exec_bits() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = raw_header("bin/tool", tar::EntryType::Regular, 3, "");
    h.set_mode(0o750);
    h.set_cksum();
    b.append(&h, &b"abc"[..]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "p.1.0.0.tar", &b.into_inner().unwrap());
    let dest = fresh_dest(&dir);
    extract(&p, PackageFormat::Tar, &dest, &ArchiveLimits::default()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(mode & 0o100, 0);
    }
}

#[test]
fn extract_refuses_unsafe_archives_before_writing_anything() {
    let cases: Vec<(&str, Vec<u8>, PackageFormat, &str)> = vec![
        (
            "traversal.zip",
            zip_bytes(&[Z::File("ok.txt", b"1"), Z::File("../evil.txt", b"x")]),
            PackageFormat::Zip,
            "`..`",
        ),
        (
            "abs.tar",
            tar_bytes(&[T::File("ok.txt", b"1"), T::File("/etc/evil", b"x")]),
            PackageFormat::Tar,
            "absolute",
        ),
        (
            "link-escape.tar",
            tar_bytes(&[T::File("ok.txt", b"1"), T::Symlink("l", "../../etc")]),
            PackageFormat::Tar,
            "climbs above",
        ),
        (
            "through-link.tar",
            tar_bytes(&[T::Symlink("l", "sub"), T::File("l/x", b"x")]),
            PackageFormat::Tar,
            "below the symbolic link",
        ),
        (
            "dup.tar",
            tar_bytes(&[T::File("a", b"1"), T::File("a", b"2")]),
            PackageFormat::Tar,
            "appears twice",
        ),
    ];
    for (name, bytes, format, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let p = write_tmp(&dir, name, &bytes);
        let dest = fresh_dest(&dir);
        let e = extract(&p, format, &dest, &ArchiveLimits::default()).expect_err(name);
        assert!(e.to_string().contains(want), "{name}: `{e}` lacks `{want}`");
        assert!(tree(&dest).is_empty(), "{name}: nothing written");
        assert!(!dir.path().join("evil.txt").exists());
    }
}

#[test]
fn extract_refuses_bombs_by_limits() {
    let big = vec![0u8; 200_000];
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "bomb.zip", &zip_bytes(&[Z::File("big", &big)]));
    let dest = fresh_dest(&dir);
    let limits = ArchiveLimits {
        max_total_size: 1000,
        ..ArchiveLimits::default()
    };
    let e = extract(&p, PackageFormat::Zip, &dest, &limits).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    assert!(tree(&dest).is_empty());
}

#[test]
fn extract_never_overwrites_or_follows_existing_entries() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(
        &dir,
        "p.zip",
        &zip_bytes(&[Z::File("keep.txt", b"new"), Z::File("out/x.txt", b"x")]),
    );
    // An existing file is not overwritten.
    let dest = fresh_dest(&dir);
    std::fs::write(dest.join("keep.txt"), b"old").unwrap();
    let e = extract(&p, PackageFormat::Zip, &dest, &ArchiveLimits::default()).unwrap_err();
    assert!(matches!(e, ArchiveError::Io(_)), "{e}");
    assert_eq!(std::fs::read(dest.join("keep.txt")).unwrap(), b"old");
    // An existing link to a directory outside is not followed.
    #[cfg(unix)]
    {
        let dest2 = dir.path().join("dest2");
        std::fs::create_dir(&dest2).unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dest2.join("out")).unwrap();
        let e = extract(&p, PackageFormat::Zip, &dest2, &ArchiveLimits::default()).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert!(tree(&outside).is_empty());
        // Nor is a destination that is itself a link.
        let e = extract(
            &p,
            PackageFormat::Zip,
            &dest2.join("out"),
            &ArchiveLimits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
    // A wrong container is refused.
    let e = extract(
        &p,
        PackageFormat::TarGz,
        &fresh_dest_named(&dir, "d3"),
        &ArchiveLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ArchiveError::WrongFormat { .. }), "{e}");
}

fn fresh_dest_named(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let d = dir.path().join(name);
    std::fs::create_dir(&d).unwrap();
    d
}
