//! `localfs_manifest`: a JSON file that lists other things. It shows collections whose
//! elements are not known until apply (`Val` elements), free-form data (`Json`), list
//! blocks holding differently shaped data, and a value the "remote system" (the file)
//! normalizes: a title is kept on one line.
//!
//! ```hcl
//! resource "localfs_manifest" "m" {
//!   path    = "manifest.json"
//!   entries = [localfs_file.a.sha256, "literal"]
//!   data    = { port = 5432, tags = ["a", "b"] }
//!   section {
//!     name = "db"
//!     data = { port = 5432 }
//!   }
//! }
//! ```

use crate::{Root, check_relative, io_error};
use serde_json::{Value as J, json};
use std::collections::BTreeMap;
use tf_sdk::model::Set;
use tf_sdk::{AttributePath, Context, Diagnostic, Diagnostics, Json, Model, Resource, Val};

/// A JSON manifest file.
#[derive(Model, Clone, Debug)]
pub struct Manifest {
    /// The path relative to the provider's root.
    #[tf(computed, use_state_for_unknown)]
    id: Val<String>,
    /// Path relative to the provider's root. Changing it replaces the manifest.
    #[tf(required, requires_replace, validate = |s: &String| check_relative(s))]
    path: Val<String>,
    /// A one-line title: the file keeps line breaks as spaces.
    #[tf(optional)]
    title: Val<String>,
    /// Ordered entries, e.g. digests of other files.
    #[tf(optional)]
    entries: Val<Vec<Val<String>>>,
    /// Members without order.
    #[tf(optional)]
    members: Val<Set<Val<String>>>,
    /// Labels by key.
    #[tf(optional)]
    labels: Val<BTreeMap<String, Val<String>>>,
    /// Free-form data, written in HCL.
    #[tf(optional)]
    data: Val<Json>,
    /// Named sections, each with its own data.
    #[tf(block = "list")]
    section: Val<Vec<Section>>,
}

/// A named section of a manifest.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct Section {
    /// The section's name.
    #[tf(required)]
    name: Val<String>,
    /// The section's data.
    #[tf(optional)]
    data: Val<Json>,
}

fn strings<'a>(items: impl IntoIterator<Item = &'a Val<String>>) -> J {
    J::Array(
        items
            .into_iter()
            .map(|v| J::String(v.known().cloned().unwrap_or_default()))
            .collect(),
    )
}

fn json_of<T: Clone>(v: &Val<T>, f: impl FnOnce(&T) -> J) -> J {
    v.known().map(f).unwrap_or(J::Null)
}

impl Manifest {
    /// The file's JSON.
    fn document(&self) -> J {
        json!({
            // The file's own normalization: one line.
            "title": json_of(&self.title, |t| J::String(t.replace(['\r', '\n'], " "))),
            "entries": json_of(&self.entries, |e| strings(e)),
            "members": json_of(&self.members, |m| {
                let mut names: Vec<Val<String>> = m.0.clone();
                names.sort_by(|a, b| a.known().cmp(&b.known()));
                strings(&names)
            }),
            "labels": json_of(&self.labels, |l| {
                J::Object(l.iter().map(|(k, v)| (k.clone(), strings([v])[0].clone())).collect())
            }),
            "data": json_of(&self.data, |d| d.0.clone()),
            "sections": json_of(&self.section, |s| J::Array(s.iter().map(|s| json!({
                "name": s.name.known(),
                "data": json_of(&s.data, |d| d.0.clone()),
            })).collect())),
        })
    }

    /// The model of a file's JSON.
    fn from_document(rel: &str, doc: &J) -> Manifest {
        let text = |v: &J| Val::from(v.as_str().map(str::to_string));
        let list = |v: &J| -> Option<Vec<Val<String>>> {
            v.as_array().map(|a| {
                a.iter()
                    .map(|e| Val::Known(e.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
        };
        let json = |v: &J| {
            if v.is_null() {
                Val::Null
            } else {
                Val::Known(Json(v.clone()))
            }
        };
        Manifest {
            id: Val::Known(rel.to_string()),
            path: Val::Known(rel.to_string()),
            title: text(&doc["title"]),
            entries: list(&doc["entries"]).into(),
            members: list(&doc["members"]).map(Set).into(),
            labels: doc["labels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .into(),
            data: json(&doc["data"]),
            section: doc["sections"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| Section {
                            name: text(&s["name"]),
                            data: json(&s["data"]),
                        })
                        .collect()
                })
                .into(),
        }
    }
}

/// `localfs_manifest`.
pub struct ManifestResource;

impl ManifestResource {
    fn write(root: &Root, plan: &Manifest) -> Result<Manifest, Diagnostics> {
        let rel = plan.path.known().cloned().unwrap_or_default();
        let path = root.join(&rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
        }
        let text = serde_json::to_string_pretty(&plan.document()).expect("JSON encodes");
        std::fs::write(&path, text).map_err(|e| io_error("write", &path, e))?;
        // Answer with what the file holds, as a remote API would.
        Self::load(root, &rel)?.ok_or_else(|| {
            Diagnostic::error("Manifest vanished", format!("{rel} is gone after writing")).into()
        })
    }

    fn load(root: &Root, rel: &str) -> Result<Option<Manifest>, Diagnostics> {
        let path = root.join(rel)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", &path, e)),
        };
        let doc: J = serde_json::from_str(&text).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error(format!("{rel} is not a manifest"), e.to_string())
                    .at(AttributePath::root("path")),
            )
        })?;
        Ok(Some(Manifest::from_document(rel, &doc)))
    }
}

impl Resource<Root> for ManifestResource {
    type Model = Manifest;

    fn name(&self) -> &str {
        "manifest"
    }

    async fn create(&self, ctx: &Context<Root>, plan: Manifest) -> Result<Manifest, Diagnostics> {
        Self::write(ctx.data()?, &plan)
    }

    async fn read(
        &self,
        ctx: &Context<Root>,
        state: Manifest,
    ) -> Result<Option<Manifest>, Diagnostics> {
        Self::load(ctx.data()?, state.path.as_deref().unwrap_or_default())
    }

    async fn update(
        &self,
        ctx: &Context<Root>,
        _prior: Manifest,
        plan: Manifest,
    ) -> Result<Manifest, Diagnostics> {
        Self::write(ctx.data()?, &plan)
    }

    async fn delete(&self, ctx: &Context<Root>, state: Manifest) -> Result<(), Diagnostics> {
        let path = ctx
            .data()?
            .join(state.path.as_deref().unwrap_or_default())?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("delete", &path, e)),
        }
    }

    async fn import(&self, ctx: &Context<Root>, id: &str) -> Result<Manifest, Diagnostics> {
        Self::load(ctx.data()?, id)?.ok_or_else(|| {
            Diagnostic::error("Cannot import", format!("There is no manifest {id:?}.")).into()
        })
    }
}
