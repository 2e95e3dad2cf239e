//! Limits on the fields a stored document keeps without modelling them.
//!
//! Fields the models do not know are kept verbatim (`extra`), so clients newer than
//! the server round-trip their data. Unbounded, one document could carry hundreds of
//! thousands of keys and make every listing that includes it slow and large; so a
//! write is refused (400) when its unknown fields exceed [`MAX_UNKNOWN_FIELDS`] keys
//! or [`MAX_UNKNOWN_BYTES`] bytes of JSON, counted over all objects of the document.

use octopus_client::model::{
    DeploymentProcess, Environment, Extra, Feed, Lifecycle, Project, ProjectGroup, Space,
};

use crate::error::{ApiError, ApiResult};

/// Most unknown fields one document may keep (all its nested objects together).
pub const MAX_UNKNOWN_FIELDS: usize = 1000;

/// Most bytes of JSON (keys and values) the unknown fields of one document may take.
pub const MAX_UNKNOWN_BYTES: usize = 64 * 1024;

/// A stored document whose objects may carry unknown fields.
pub trait UnknownFields {
    /// Calls `f` with the path of each object of the document (`""` for the document
    /// itself, `Steps[0].Actions[1]`, ...) and that object's unknown fields.
    fn each_unknown<'a>(&'a self, f: &mut dyn FnMut(&dyn Fn() -> String, &'a Extra));
}

/// Documents with unknown fields only at the top level.
macro_rules! top_level_only {
    ($($t:ty),+) => {$(
        impl UnknownFields for $t {
            fn each_unknown<'a>(&'a self, f: &mut dyn FnMut(&dyn Fn() -> String, &'a Extra)) {
                f(&String::new, &self.extra);
            }
        }
    )+};
}
top_level_only!(Space, Environment, ProjectGroup, Project, Feed);

impl UnknownFields for Lifecycle {
    fn each_unknown<'a>(&'a self, f: &mut dyn FnMut(&dyn Fn() -> String, &'a Extra)) {
        f(&String::new, &self.extra);
        for (i, phase) in self.phases.iter().enumerate() {
            f(&|| format!("Phases[{i}]"), &phase.extra);
        }
    }
}

impl UnknownFields for DeploymentProcess {
    fn each_unknown<'a>(&'a self, f: &mut dyn FnMut(&dyn Fn() -> String, &'a Extra)) {
        f(&String::new, &self.extra);
        for (i, step) in self.steps.iter().enumerate() {
            f(&|| format!("Steps[{i}]"), &step.extra);
            for (j, action) in step.actions.iter().enumerate() {
                f(&|| format!("Steps[{i}].Actions[{j}]"), &action.extra);
            }
        }
    }
}

/// Counts bytes written through it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses a document whose unknown fields exceed the limits (400 naming the limit
/// and the first unknown field, so the sender can tell what was not understood).
pub fn check<T: UnknownFields>(doc: &T) -> ApiResult<()> {
    let mut count = 0usize;
    let mut bytes = 0usize;
    let mut first: Option<String> = None;
    doc.each_unknown(&mut |path, extra| {
        if extra.is_empty() {
            return;
        }
        count += extra.len();
        if first.is_none()
            && let Some(key) = extra.keys().next()
        {
            let key: String = key.chars().take(100).collect();
            let at = path();
            first = Some(if at.is_empty() {
                format!("`{}`", key.escape_debug())
            } else {
                format!("`{}` in {at}", key.escape_debug())
            });
        }
        // Stop measuring once over the limit: the answer is known.
        if bytes <= MAX_UNKNOWN_BYTES {
            for (k, v) in extra {
                let mut c = Counter(0);
                // Writing to a counter cannot fail.
                let _ = serde_json::to_writer(&mut c, v);
                // `"key":value,`
                bytes += k.len() + 4 + c.0;
            }
        }
    });
    let first = first.unwrap_or_default();
    if count > MAX_UNKNOWN_FIELDS {
        return Err(ApiError::validation(vec![format!(
            "The document has {count} fields this server does not know (the first is {first}); \
             at most {MAX_UNKNOWN_FIELDS} unknown fields are kept per document."
        )]));
    }
    if bytes > MAX_UNKNOWN_BYTES {
        return Err(ApiError::validation(vec![format!(
            "The fields this server does not know (the first is {first}) take more than \
             {MAX_UNKNOWN_BYTES} bytes of JSON; at most {MAX_UNKNOWN_BYTES} bytes of unknown \
             fields are kept per document."
        )]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use octopus_client::model::{Action, Step};
    use serde_json::json;

    #[test]
    fn limits_count_and_size_over_the_whole_document() {
        let mut p = Project::new("p");
        p.extra.insert("Known".into(), json!(1));
        assert!(check(&p).is_ok());
        for i in 0..MAX_UNKNOWN_FIELDS {
            p.extra.insert(format!("k{i}"), json!(1));
        }
        let e = check(&p).unwrap_err();
        assert!(e.errors[0].contains("at most 1000 unknown fields"), "{e:?}");

        let mut p = Project::new("p");
        p.extra
            .insert("Big".into(), json!("x".repeat(MAX_UNKNOWN_BYTES)));
        let e = check(&p).unwrap_err();
        assert!(e.errors[0].contains("65536 bytes"), "{e:?}");
        assert!(e.errors[0].contains("`Big`"), "{e:?}");

        // Nested objects count towards the same document.
        let mut action = Action::default();
        action.extra.insert("Links".into(), json!({}));
        let step = Step {
            actions: vec![action; 600],
            ..Step::default()
        };
        let process = DeploymentProcess {
            steps: vec![step.clone()],
            ..DeploymentProcess::default()
        };
        assert!(check(&process).is_ok());
        let process = DeploymentProcess {
            steps: vec![step.clone(), step],
            ..DeploymentProcess::default()
        };
        let e = check(&process).unwrap_err();
        assert!(
            e.errors[0].contains("`Links` in Steps[0].Actions[0]"),
            "{e:?}"
        );
    }
}
