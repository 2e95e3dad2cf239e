//! Numbered schema migrations, applied in order, each in its own transaction.

use rusqlite::Connection;

/// `(version, name, SQL)`; append only, never edit an applied migration.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "documents",
        "CREATE TABLE documents (
        kind TEXT NOT NULL,
        space_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name_key TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, space_id, id)
    );
    CREATE UNIQUE INDEX documents_name ON documents (kind, space_id, name_key)
        WHERE name_key IS NOT NULL;
    CREATE TABLE sequences (prefix TEXT PRIMARY KEY, next INTEGER NOT NULL);",
    ),
    (
        2,
        "packages",
        "CREATE TABLE packages (
        space_id TEXT NOT NULL,
        id TEXT NOT NULL,
        id_key TEXT NOT NULL,
        package_id TEXT NOT NULL,
        package_key TEXT NOT NULL,
        version TEXT NOT NULL,
        version_key TEXT NOT NULL,
        extension TEXT NOT NULL,
        file_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha1 TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        published TEXT NOT NULL,
        PRIMARY KEY (space_id, package_key, version_key)
    );
    CREATE UNIQUE INDEX packages_id ON packages (space_id, id_key);
    CREATE UNIQUE INDEX packages_file ON packages (space_id, file_name);
    CREATE TRIGGER packages_space_deleted AFTER DELETE ON documents
        WHEN old.kind = 'spaces' AND old.space_id = ''
    BEGIN
        DELETE FROM packages WHERE space_id = old.id;
    END;",
    ),
    (
        3,
        "step_packages",
        "CREATE TABLE step_package_versions (
        package_key TEXT NOT NULL,
        package_id TEXT NOT NULL,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        archive_file TEXT NOT NULL,
        installed_on TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (package_key, version)
    );
    CREATE TABLE step_package_steps (
        step_id TEXT NOT NULL,
        package_key TEXT NOT NULL,
        version TEXT NOT NULL,
        position INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (step_id, version),
        FOREIGN KEY (package_key, version) REFERENCES step_package_versions (package_key, version)
    );
    CREATE INDEX step_package_steps_version ON step_package_steps (package_key, version);",
    ),
    (
        4,
        "encrypt_secrets",
        // Then, in the same transaction, `secrets::encrypt_stored` seals the plaintext
        // sensitive values of earlier versions and records the key's check value.
        "CREATE TABLE master_key_check (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        check_value TEXT NOT NULL
    );",
    ),
    (
        5,
        "step_package_kind",
        // Octopus's format: a version may be a deployment target (no steps).
        "ALTER TABLE step_package_versions ADD COLUMN kind TEXT NOT NULL DEFAULT 'step';
    ALTER TABLE step_package_versions ADD COLUMN format TEXT NOT NULL DEFAULT 'Ours';",
    ),
];

/// The migration after whose SQL [`crate::secrets::encrypt_stored`] runs.
const ENCRYPT_SECRETS: i64 = 4;

/// Brings the schema up to date. Refuses a store written by a newer server. `key`
/// is the master key migration 4 encrypts stored secrets with.
pub fn migrate(conn: &mut Connection, key: &crate::secrets::MasterKey) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_on TEXT NOT NULL
        )",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the store has schema version {current}, newer than this server's {latest}"
        )));
    }
    let applied: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // Every migration not yet recorded, so one numbered below an applied one still runs.
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if *version == ENCRYPT_SECRETS {
            crate::secrets::encrypt_stored(&tx, key)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_on) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, crate::util::now_iso8601()],
        )?;
        tx.commit()?;
    }
    Ok(())
}
