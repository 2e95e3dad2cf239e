//! Secrets at rest: the master key and the encryption of sensitive values.
//!
//! Like Octopus Server, octopus-lite encrypts every sensitive value it stores
//! with a master key. The key is 32 random bytes in `<data dir>/master-key`
//! (mode 0600), created on first start; the database never holds it. Sensitive
//! values are the `{"HasValue", "NewValue"[, "Hint"]}` objects of the documents
//! that can hold them ([`SECRET_KINDS`]: feed `Password`, `SecretKey`,
//! `ServiceAccountJsonKey`, sensitive step and action properties, sensitive
//! step-package inputs), and the `Value` of sensitive variables in variable sets
//! (`IsSensitive` or `Type = Sensitive`; see [`seal_variables`]). At rest their
//! `NewValue` (a variable's `Value`) is replaced by
//! `"EncryptedValue": "v1.<base64url(nonce ‖ ciphertext ‖ tag)>"`, sealed with
//! AES-256-GCM-SIV (aws-lc-rs) under a random 96-bit nonce; the plaintext is
//! the value's JSON text, so any JSON type round-trips.
//!
//! Encryption is transparent to the rest of the server: [`crate::store::documents`]
//! seals on every write and opens on every read of those kinds, with the key of
//! the store running the transaction ([`with_key`], installed by
//! [`crate::store::Store`] around each read and write). Migration 4 seals the
//! plaintext values of stores written before, in the migration's transaction, and
//! stores a check value so that a wrong or missing key is refused at start-up
//! instead of failing later.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// File in the data directory holding the master key.
pub const MASTER_KEY_FILE: &str = "master-key";

/// Document kinds whose sensitive values are encrypted.
pub const SECRET_KINDS: &[&str] = &["feeds", "deploymentprocesses", VARIABLES_KIND];

/// The document kind of variable sets, whose sensitive variables' `Value`s are sealed.
pub const VARIABLES_KIND: &str = "variables";

/// The field an encrypted value is stored under, instead of `NewValue`.
pub const ENCRYPTED_FIELD: &str = "EncryptedValue";

/// Prefix of an encrypted value (the format version).
const SEALED_PREFIX: &str = "v1.";

/// Additional authenticated data of every sealed value.
const AAD: &[u8] = b"octopus-lite sensitive value v1";

/// What the check value in the database decrypts to.
const CHECK_PLAINTEXT: &[u8] = b"octopus-lite master key check";

/// The line prefix of the key in the key file.
const KEY_LINE_PREFIX: &str = "v1:";

const KEY_FILE_HEADER: &str = "# octopus-lite master key: it encrypts the sensitive values in octopus-lite.db.\n\
# Back it up together with the database: without it they cannot be decrypted.\n";

/// The master key.
pub struct MasterKey {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            // Only fails for a key of the wrong length, which the type rules out.
            key: RandomizedNonceKey::new(&AES_256_GCM_SIV, bytes)
                .expect("a 32-byte AES-256-GCM-SIV key"),
        }
    }

    /// Encrypts `plaintext`: `v1.` and the base64url of nonce, ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(AAD), &mut buf)
            .expect("AES-256-GCM-SIV sealing does not fail");
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts what [`MasterKey::seal`] produced; `None` if it is not a value
    /// sealed with this key (wrong key, damaged or forged).
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX)?)
            .ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The check value stored in the database (migration 4).
    pub fn check_value(&self) -> String {
        self.seal(CHECK_PLAINTEXT)
    }

    /// Whether `check` was made by [`MasterKey::check_value`] with this key.
    pub fn matches(&self, check: &str) -> bool {
        self.open(check).as_deref() == Some(CHECK_PLAINTEXT)
    }
}

fn parse_key_file(text: &str) -> Option<MasterKey> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(line.strip_prefix(KEY_LINE_PREFIX)?)
        .ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    Some(MasterKey::from_bytes(&bytes))
}

/// Loads the master key of `dir`; `Ok(None)` when there is no key file. A key file
/// readable by others is made 0600 (and reported).
pub fn load(dir: &Path) -> Result<Option<MasterKey>, String> {
    let path = dir.join(MASTER_KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    restrict_to_owner(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_key_file(&text).map(Some).ok_or_else(|| {
        format!(
            "{} is not an octopus-lite master key (expected a line `v1:` followed by 32 bytes in base64url); \
             restore the key file that was backed up with this database",
            path.display()
        )
    })
}

/// Creates a new master key in `dir`, durably, never readable by others (see
/// [`create_private_file`]). If another process created one first, that one is
/// loaded instead.
pub fn create(dir: &Path) -> Result<MasterKey, String> {
    let bytes = crate::util::random_bytes::<32>();
    let text = format!(
        "{KEY_FILE_HEADER}{KEY_LINE_PREFIX}{}\n",
        URL_SAFE_NO_PAD.encode(bytes)
    );
    let path = dir.join(MASTER_KEY_FILE);
    match create_private_file(dir, MASTER_KEY_FILE, text.as_bytes()) {
        Ok(true) => Ok(MasterKey::from_bytes(&bytes)),
        Ok(false) => load(dir)?.ok_or_else(|| format!("{} vanished", path.display())),
        Err(e) => Err(format!("creating {}: {e}", path.display())),
    }
}

/// Makes a file (or directory, with `0o700`) accessible to its owner only.
#[cfg(unix)]
pub fn restrict_to_owner(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode() & 0o777;
    let want = if meta.is_dir() { 0o700 } else { 0o600 };
    if mode == want {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
    Ok(true)
}

/// Makes a file (or directory) accessible to its owner only (a no-op here).
#[cfg(not(unix))]
pub fn restrict_to_owner(_path: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Writes `contents` as `dir/name` if that file does not exist yet, atomically and
/// durably, readable and writable by the owner only whatever the umask: a unique
/// temporary file is created with mode 0600 (`O_EXCL`, so no leftover file and no
/// other process's file is reused), written and fsynced, then linked to its name
/// (which fails if the name exists: a concurrent creator wins, `Ok(false)`), and the
/// directory is fsynced. Readers see either no file or the complete one.
pub fn create_private_file(dir: &Path, name: &str, contents: &[u8]) -> io::Result<bool> {
    let hex: String = crate::util::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tmp = dir.join(format!(".{name}.tmp-{hex}"));
    let target = dir.join(name);
    let written = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            // The umask can only have removed bits; make the mode exact.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(contents)?;
        f.sync_all()
    })();
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, &target) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links: rename (no-clobber checked just before).
        Err(_) if !target.exists() => std::fs::rename(&tmp, &target).map(|()| true),
        Err(e) => Err(e),
    });
    let _ = std::fs::remove_file(&tmp);
    let created = linked?;
    if created {
        crate::packages::sync_dir(dir)?;
    }
    Ok(created)
}

/// Removes temporary files [`create_private_file`] left behind when interrupted
/// (and the `api-key.tmp` older versions used).
pub fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = [MASTER_KEY_FILE, crate::API_KEY_FILE]
            .iter()
            .any(|n| name.starts_with(&format!(".{n}.tmp-")) || name == format!("{n}.tmp"));
        if ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

thread_local! {
    static ACTIVE: RefCell<Option<Arc<MasterKey>>> = const { RefCell::new(None) };
}

/// Runs `f` with `key` as the key documents are sealed and opened with on this
/// thread (the store calls every transaction through it).
pub fn with_key<R>(key: &Arc<MasterKey>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<MasterKey>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            ACTIVE.with(|a| *a.borrow_mut() = prev);
        }
    }
    let prev = ACTIVE.with(|a| a.borrow_mut().replace(key.clone()));
    let _restore = Restore(prev);
    f()
}

fn active_key() -> ApiResult<Arc<MasterKey>> {
    ACTIVE
        .with(|a| a.borrow().clone())
        .ok_or_else(|| ApiError::internal("a document with secrets was used outside the store"))
}

/// Whether documents of `kind` may hold sensitive values.
pub fn holds_secrets(kind: &str) -> bool {
    SECRET_KINDS.contains(&kind)
}

fn is_plain_secret(o: &Map<String, Value>) -> bool {
    o.contains_key("HasValue")
        && o.get("NewValue").is_some_and(|v| !v.is_null())
        && o.keys()
            .all(|k| matches!(k.as_str(), "HasValue" | "NewValue" | "Hint"))
}

fn is_sealed_secret(o: &Map<String, Value>) -> bool {
    o.get(ENCRYPTED_FIELD).is_some_and(Value::is_string)
        && o.keys()
            .all(|k| matches!(k.as_str(), "HasValue" | "Hint" | ENCRYPTED_FIELD))
}

/// Replaces the `NewValue` of every sensitive value in `v` by its encryption;
/// returns how many were sealed. An `EncryptedValue` that this key did not make
/// (sent by a client) is refused.
pub fn seal_value(key: &MasterKey, v: &mut Value) -> ApiResult<usize> {
    match v {
        Value::Object(o) if is_plain_secret(o) => {
            let plain = o.remove("NewValue").unwrap_or(Value::Null);
            let text = serde_json::to_vec(&plain).map_err(ApiError::internal)?;
            o.insert(ENCRYPTED_FIELD.into(), Value::String(key.seal(&text)));
            Ok(1)
        }
        Value::Object(o) if is_sealed_secret(o) => {
            let genuine = o
                .get(ENCRYPTED_FIELD)
                .and_then(Value::as_str)
                .and_then(|s| key.open(s))
                .is_some();
            if genuine {
                Ok(0)
            } else {
                Err(ApiError::bad_request(format!(
                    "{ENCRYPTED_FIELD}: this field is reserved for secrets the server stores; send a sensitive value as {{\"HasValue\": true, \"NewValue\": \"...\"}}."
                )))
            }
        }
        Value::Object(o) => {
            let mut n = 0;
            for item in o.values_mut() {
                n += seal_value(key, item)?;
            }
            Ok(n)
        }
        Value::Array(items) => {
            let mut n = 0;
            for item in items {
                n += seal_value(key, item)?;
            }
            Ok(n)
        }
        _ => Ok(0),
    }
}

/// A sealed value that does not open with the master key (wrong key, damaged, forged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sensitive value could not be decrypted with the master key")]
pub struct Undecryptable;

/// Restores the `NewValue` of every encrypted sensitive value in `v`.
pub fn open_value(key: &MasterKey, v: &mut Value) -> Result<(), Undecryptable> {
    match v {
        Value::Object(o) if is_sealed_secret(o) => {
            let sealed = o.remove(ENCRYPTED_FIELD).unwrap_or(Value::Null);
            let plain = sealed
                .as_str()
                .and_then(|s| key.open(s))
                .ok_or(Undecryptable)?;
            let value: Value = serde_json::from_slice(&plain).map_err(|_| Undecryptable)?;
            o.insert("NewValue".into(), value);
            Ok(())
        }
        Value::Object(o) => o.values_mut().try_for_each(|item| open_value(key, item)),
        Value::Array(items) => items.iter_mut().try_for_each(|item| open_value(key, item)),
        _ => Ok(()),
    }
}

/// Whether a variable (an object of a set's `Variables`) holds a secret.
fn is_sensitive_variable(o: &Map<String, Value>) -> bool {
    o.get("IsSensitive").and_then(Value::as_bool) == Some(true)
        || o.get("Type").and_then(Value::as_str) == Some("Sensitive")
}

/// Seals the `Value` of every sensitive variable of a variable set document: it is
/// removed and its encryption (of the value's JSON text) stored as `EncryptedValue`.
/// A variable carrying an `EncryptedValue` this key did not make is refused (the
/// store only ever holds decrypted variables in memory, so one there came from a
/// client). Returns how many were sealed.
pub fn seal_variables(key: &MasterKey, set: &mut Value) -> ApiResult<usize> {
    let Some(vars) = set.get_mut("Variables").and_then(Value::as_array_mut) else {
        return Ok(0);
    };
    let mut n = 0;
    for var in vars.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(sealed) = var.get(ENCRYPTED_FIELD) {
            let genuine = sealed.as_str().and_then(|s| key.open(s)).is_some();
            if !genuine {
                return Err(ApiError::bad_request(format!(
                    "Variables: {ENCRYPTED_FIELD} is reserved for secrets the server stores; send a sensitive variable's secret as its Value."
                )));
            }
            continue;
        }
        if !is_sensitive_variable(var) {
            continue;
        }
        if var.get("Value").is_some_and(|v| !v.is_null()) {
            let plain = var.remove("Value").unwrap_or(Value::Null);
            let text = serde_json::to_vec(&plain).map_err(ApiError::internal)?;
            var.insert(ENCRYPTED_FIELD.into(), Value::String(key.seal(&text)));
            n += 1;
        }
    }
    Ok(n)
}

/// Restores the `Value` of every sealed variable of a variable set document.
pub fn open_variables(key: &MasterKey, set: &mut Value) -> Result<(), Undecryptable> {
    let Some(vars) = set.get_mut("Variables").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for var in vars.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(sealed) = var.remove(ENCRYPTED_FIELD) {
            let plain = sealed
                .as_str()
                .and_then(|s| key.open(s))
                .ok_or(Undecryptable)?;
            let value: Value = serde_json::from_slice(&plain).map_err(|_| Undecryptable)?;
            var.insert("Value".into(), value);
        }
    }
    Ok(())
}

/// Seals every secret of a stored document of `kind`: the sensitive-value objects
/// ([`seal_value`]) and, in variable sets, sensitive variables ([`seal_variables`]).
pub fn seal_document(kind: &str, key: &MasterKey, v: &mut Value) -> ApiResult<usize> {
    let mut n = seal_value(key, v)?;
    if kind == VARIABLES_KIND {
        n += seal_variables(key, v)?;
    }
    Ok(n)
}

/// Opens every secret [`seal_document`] sealed.
pub fn open_document(kind: &str, key: &MasterKey, v: &mut Value) -> Result<(), Undecryptable> {
    open_value(key, v)?;
    if kind == VARIABLES_KIND {
        open_variables(key, v)?;
    }
    Ok(())
}

/// The stored JSON of a document of `kind`: sensitive values sealed.
pub fn encode_document<T: serde::Serialize>(kind: &str, doc: &T) -> ApiResult<String> {
    let text = serde_json::to_string(doc).map_err(ApiError::internal)?;
    let may_hold = text.contains("\"NewValue\"")
        || text.contains(&format!("\"{ENCRYPTED_FIELD}\""))
        || (kind == VARIABLES_KIND && text.contains("\"Variables\""));
    if !holds_secrets(kind) || !may_hold {
        return Ok(text);
    }
    let mut v: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
    let key = active_key()?;
    seal_document(kind, &key, &mut v)?;
    serde_json::to_string(&v).map_err(ApiError::internal)
}

/// A stored document of `kind` read back: sensitive values decrypted.
pub fn decode_document<T: serde::de::DeserializeOwned>(
    kind: &str,
    id: &str,
    body: &str,
) -> ApiResult<T> {
    let corrupt = |e: serde_json::Error| ApiError::internal(format!("corrupt {kind} {id}: {e}"));
    if !holds_secrets(kind) || !body.contains(&format!("\"{ENCRYPTED_FIELD}\"")) {
        return serde_json::from_str(body).map_err(corrupt);
    }
    let mut v: Value = serde_json::from_str(body).map_err(corrupt)?;
    let key = active_key()?;
    open_document(kind, &key, &mut v).map_err(|Undecryptable| {
        ApiError::internal(format!(
            "a sensitive value of {kind} {id} could not be decrypted with the master key"
        ))
    })?;
    serde_json::from_value(v).map_err(corrupt)
}

/// Migration 4: seals every plaintext sensitive value stored by earlier versions
/// and records the key's check value, in the migration's transaction (so a crash
/// leaves either the old store or the fully encrypted one).
pub fn encrypt_stored(tx: &rusqlite::Transaction<'_>, key: &MasterKey) -> rusqlite::Result<()> {
    let mut sealed = 0usize;
    let kinds = serde_json::to_string(SECRET_KINDS).unwrap_or_default();
    let rows: Vec<(i64, String, String)> = tx
        .prepare(
            "SELECT rowid, kind, body FROM documents WHERE kind IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([kinds], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (rowid, kind, body) in rows {
        let Ok(mut v) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        let n = seal_document(&kind, key, &mut v).map_err(|e| startup_error(e.message))?;
        if n > 0 {
            let body = serde_json::to_string(&v).map_err(|e| startup_error(e.to_string()))?;
            tx.execute(
                "UPDATE documents SET body = ?1 WHERE rowid = ?2",
                rusqlite::params![body, rowid],
            )?;
            sealed += n;
        }
    }
    tx.execute(
        "INSERT INTO master_key_check (id, check_value) VALUES (1, ?1)",
        [key.check_value()],
    )?;
    if sealed > 0 {
        eprintln!("octopus-lite: encrypted {sealed} stored sensitive values with the master key");
    }
    Ok(())
}

/// The check value recorded by migration 4, if it ran.
pub fn stored_check(conn: &rusqlite::Connection) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    let has_table: bool = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'master_key_check'")?
        .exists([])?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row(
        "SELECT check_value FROM master_key_check WHERE id = 1",
        [],
        |r| r.get(0),
    )
    .optional()
}

/// A start-up failure as a storage error (its message is shown as is).
pub fn startup_error(message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7; 32])
    }

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let k = key();
        let s = k.seal(b"hunter2");
        assert!(s.starts_with("v1."), "{s}");
        assert!(!s.contains("hunter2"));
        assert_eq!(k.open(&s).as_deref(), Some(&b"hunter2"[..]));
        // Random nonces: the same secret seals differently each time.
        assert_ne!(k.seal(b"hunter2"), s);
        assert_eq!(MasterKey::from_bytes(&[8; 32]).open(&s), None);
        let mut tampered = s.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.open(std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(k.open("v1."), None);
        assert_eq!(k.open("garbage"), None);
        assert!(k.matches(&k.check_value()));
        assert!(!MasterKey::from_bytes(&[9; 32]).matches(&k.check_value()));
    }

    #[test]
    fn documents_round_trip_with_every_secret_sealed() {
        let k = key();
        let original = serde_json::json!({
            "Password": {"HasValue": true, "NewValue": "PW-1"},
            "Plain": {"HasValue": true},
            "Steps": [{"Properties": {"S": {"HasValue": true, "NewValue": "PROP-2", "Hint": "h"}},
                       "Inputs": {"nested": {"token": {"HasValue": true, "NewValue": {"odd": 3}}},
                                  "NotSecret": {"NewValue": "shown"}}}]
        });
        let mut v = original.clone();
        assert_eq!(seal_value(&k, &mut v).unwrap(), 3);
        let text = v.to_string();
        for plain in ["PW-1", "PROP-2", "odd"] {
            assert!(!text.contains(plain), "{plain} in {text}");
        }
        assert!(text.contains("shown"), "not a sensitive value: {text}");
        // Sealing again changes nothing.
        assert_eq!(seal_value(&k, &mut v).unwrap(), 0);
        open_value(&k, &mut v).unwrap();
        assert_eq!(v, original);
    }

    #[test]
    fn sensitive_variables_are_sealed_and_plain_ones_kept() {
        let k = key();
        let original = serde_json::json!({
            "Id": "variableset-Projects-1",
            "Variables": [
                {"Id": "a", "Name": "Db.Password", "Type": "Sensitive", "IsSensitive": true, "Value": "VARSECRET-1"},
                {"Id": "b", "Name": "Legacy", "Type": "String", "IsSensitive": true, "Value": "VARSECRET-2"},
                {"Id": "c", "Name": "Url", "Type": "String", "IsSensitive": false, "Value": "https://shown"},
                {"Id": "d", "Name": "Empty", "Type": "Sensitive", "IsSensitive": true, "Value": null}
            ]
        });
        let mut v = original.clone();
        assert_eq!(seal_document(VARIABLES_KIND, &k, &mut v).unwrap(), 2);
        let text = v.to_string();
        assert!(!text.contains("VARSECRET"), "{text}");
        assert!(text.contains("https://shown"), "{text}");
        assert_eq!(v["Variables"][3]["Value"], Value::Null);
        // Sealing again changes nothing; other kinds leave variables alone.
        assert_eq!(seal_document(VARIABLES_KIND, &k, &mut v).unwrap(), 0);
        let mut other = original.clone();
        assert_eq!(seal_document("feeds", &k, &mut other).unwrap(), 0);
        open_document(VARIABLES_KIND, &k, &mut v).unwrap();
        assert_eq!(v, original);
        // A client cannot smuggle in an encrypted value.
        let mut forged =
            serde_json::json!({"Variables": [{"Name": "x", "EncryptedValue": "v1.AAAA"}]});
        assert_eq!(seal_variables(&k, &mut forged).unwrap_err().status, 400);
    }

    #[test]
    fn forged_encrypted_values_are_refused() {
        let k = key();
        let mut v = serde_json::json!({"S": {"HasValue": true, "EncryptedValue": "v1.AAAA"}});
        assert_eq!(seal_value(&k, &mut v).unwrap_err().status, 400);
        let mut v = serde_json::json!({"S": {"HasValue": true, "EncryptedValue": "v1.AAAA"}});
        assert!(open_value(&k, &mut v).is_err());
    }

    #[test]
    fn key_files_parse_strictly() {
        let good = format!(
            "{KEY_FILE_HEADER}{KEY_LINE_PREFIX}{}\n",
            URL_SAFE_NO_PAD.encode([1u8; 32])
        );
        assert!(parse_key_file(&good).is_some());
        for bad in [
            String::new(),
            "v1:short".into(),
            format!("{KEY_LINE_PREFIX}{}", URL_SAFE_NO_PAD.encode([1u8; 31])),
            format!("{good}{good}"),
            "API-ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(),
        ] {
            assert!(parse_key_file(&bad).is_none(), "{bad:?}");
        }
    }
}
