//! Generic document storage: one JSON document per resource, keyed by
//! `(kind, space, id)`, with a case-insensitive unique name per kind and space.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Space key used for resources that are not space-scoped (spaces themselves).
pub const NO_SPACE: &str = "";

/// Filters of a list query.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Case-insensitive substring of the name.
    pub partial_name: Option<String>,
    /// Exact name (case-insensitive).
    pub name: Option<String>,
    /// Only these IDs.
    pub ids: Option<Vec<String>>,
    /// `(JSON path, value)` pairs the body must match exactly.
    pub json_equals: Vec<(String, String)>,
    /// JSON path to sort by (then creation order); `None`: creation order. A constant
    /// of the code (it is written into the SQL), never client input.
    pub order_by: Option<&'static str>,
    /// Newest first (reverse creation order) instead of oldest first.
    pub newest_first: bool,
}

/// The key used for name uniqueness.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A stored document body read back (sensitive values of [`crate::secrets::SECRET_KINDS`]
/// decrypted). Call it within a store transaction; for code reading `body` itself.
pub fn decode<T: DeserializeOwned>(kind: &str, id: &str, body: &str) -> ApiResult<T> {
    crate::secrets::decode_document(kind, id, body)
}

/// The body stored for a document (sensitive values encrypted).
fn encode<T: Serialize>(kind: &str, doc: &T) -> ApiResult<String> {
    crate::secrets::encode_document(kind, doc)
}

/// Next ID of the form `<prefix>-<n>`, unique forever (never reused).
pub fn next_id(conn: &Connection, prefix: &str) -> ApiResult<String> {
    let n: i64 = conn.query_row(
        "INSERT INTO sequences (prefix, next) VALUES (?1, 1)
         ON CONFLICT (prefix) DO UPDATE SET next = next + 1 RETURNING next",
        [prefix],
        |r| r.get(0),
    )?;
    Ok(format!("{prefix}-{n}"))
}

/// Reads one document.
pub fn get<T: DeserializeOwned>(
    conn: &Connection,
    kind: &str,
    space: &str,
    id: &str,
) -> ApiResult<Option<T>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM documents WHERE kind = ?1 AND space_id = ?2 AND id = ?3")?
        .query_row(params![kind, space, id], |r| r.get(0))
        .optional()?;
    body.map(|b| decode(kind, id, &b)).transpose()
}

/// Whether a document exists.
pub fn exists(conn: &Connection, kind: &str, space: &str, id: &str) -> ApiResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE kind = ?1 AND space_id = ?2 AND id = ?3")?
        .exists(params![kind, space, id])?)
}

/// The ID of the document with this name (case-insensitive), if any.
pub fn id_by_name(
    conn: &Connection,
    kind: &str,
    space: &str,
    name: &str,
) -> ApiResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM documents WHERE kind = ?1 AND space_id = ?2 AND name_key = ?3",
        )?
        .query_row(params![kind, space, name_key(name)], |r| r.get(0))
        .optional()?)
}

/// The oldest document of a kind in a space (defaults such as the default lifecycle).
pub fn first_id(conn: &Connection, kind: &str, space: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM documents WHERE kind = ?1 AND space_id = ?2 ORDER BY rowid LIMIT 1",
        )?
        .query_row(params![kind, space], |r| r.get(0))
        .optional()?)
}

/// Inserts a new document.
pub fn insert<T: Serialize>(
    conn: &Connection,
    kind: &str,
    space: &str,
    id: &str,
    name: Option<&str>,
    doc: &T,
) -> ApiResult<()> {
    conn.prepare_cached(
        "INSERT INTO documents (kind, space_id, id, name_key, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        kind,
        space,
        id,
        name.map(name_key),
        encode(kind, doc)?
    ])?;
    Ok(())
}

/// Replaces an existing document; false if there was none.
pub fn update<T: Serialize>(
    conn: &Connection,
    kind: &str,
    space: &str,
    id: &str,
    name: Option<&str>,
    doc: &T,
) -> ApiResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE documents SET name_key = ?4, body = ?5 WHERE kind = ?1 AND space_id = ?2 AND id = ?3",
        )?
        .execute(params![kind, space, id, name.map(name_key), encode(kind, doc)?])?;
    Ok(n == 1)
}

/// Deletes a document; false if there was none.
pub fn delete(conn: &Connection, kind: &str, space: &str, id: &str) -> ApiResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM documents WHERE kind = ?1 AND space_id = ?2 AND id = ?3")?
        .execute(params![kind, space, id])?;
    Ok(n == 1)
}

/// Deletes every document of a space.
pub fn delete_space_contents(conn: &Connection, space: &str) -> ApiResult<()> {
    conn.execute("DELETE FROM documents WHERE space_id = ?1", [space])?;
    Ok(())
}

/// Number of documents of a kind in a space whose JSON field equals `value`.
pub fn count_referencing(
    conn: &Connection,
    kind: &str,
    space: &str,
    json_path: &str,
    value: &str,
) -> ApiResult<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM documents WHERE kind = ?1 AND space_id = ?2 AND json_extract(body, ?3) = ?4",
        params![kind, space, json_path, value],
        |r| r.get(0),
    )?)
}

/// One page of documents (in `filter.order_by`, then creation order) and the total
/// matching count.
pub fn list<T: DeserializeOwned>(
    conn: &Connection,
    kind: &str,
    space: &str,
    filter: &Filter,
    skip: i64,
    take: i64,
) -> ApiResult<(Vec<T>, i64)> {
    let mut sql = String::from(" FROM documents WHERE kind = ? AND space_id = ?");
    let mut args: Vec<String> = vec![kind.into(), space.into()];
    if let Some(p) = &filter.partial_name {
        // A substring test with instr(), not LIKE: LIKE patterns are limited to
        // 50,000 bytes ("LIKE or GLOB pattern too complex") and need escaping.
        // Both sides are lowercased (name_key is), so this is case-insensitive.
        sql.push_str(" AND instr(name_key, ?) > 0");
        args.push(name_key(p));
    }
    if let Some(n) = &filter.name {
        sql.push_str(" AND name_key = ?");
        args.push(name_key(n));
    }
    if let Some(ids) = &filter.ids {
        sql.push_str(" AND id IN (SELECT value FROM json_each(?))");
        args.push(serde_json::to_string(ids).map_err(ApiError::internal)?);
    }
    for (path, value) in &filter.json_equals {
        sql.push_str(" AND json_extract(body, ?) = ?");
        args.push(path.clone());
        args.push(value.clone());
    }
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*){sql}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let mut items = Vec::new();
    if take > 0 && skip < total {
        let order = match filter.order_by {
            Some(path) if !path.contains('\'') => format!("json_extract(body, '{path}'), rowid"),
            _ if filter.newest_first => "rowid DESC".to_owned(),
            _ => "rowid".to_owned(),
        };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, body{sql} ORDER BY {order} LIMIT {take} OFFSET {skip}"
        ))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let body: String = row.get(1)?;
            items.push(decode(kind, &id, &body)?);
        }
    }
    Ok((items, total))
}
