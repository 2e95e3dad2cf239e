//! Octopus API errors as Terraform diagnostics that say what to fix.

use octopus_client::Error;
use tf_sdk::{AttributePath, Diagnostic, Diagnostics};

/// Maps an Octopus field name in a validation error to the attribute it came from.
pub type FieldPath<'a> = &'a dyn Fn(&str) -> Option<AttributePath>;

/// A failed API call during `action` (e.g. "create the project") as a diagnostic.
/// Validation errors that name a field are pointed at `field_path(field)`.
pub fn api(action: &str, err: Error, field_path: Option<FieldPath>) -> Diagnostics {
    let mut diags = Diagnostics::new();
    match &err {
        Error::Api { status: 401, .. } => diags.error(
            format!("Octopus refused the API key while trying to {action}"),
            "Check `api_key` in the provider block, or OCTOPUS_APIKEY / OCTOPUS_API_KEY.",
        ),
        Error::Api {
            status: 403,
            message,
            ..
        } => diags.error(
            format!("Not allowed to {action}"),
            format!("{message}\nThe API key's user lacks the permission for this."),
        ),
        // A space that does not exist (or the key cannot see) fails every call in it.
        Error::Api {
            status: 404,
            message,
            ..
        } if message.starts_with("The space '") => {
            let d = Diagnostic::error(
                format!("Could not {action}: no such space"),
                format!(
                    "{message} Check `space_id` (on the resource, or the provider's `space_id` \
                     / OCTOPUS_SPACE_ID)."
                ),
            );
            diags.push(match field_path.and_then(|f| f("SpaceId")) {
                Some(path) => d.at(path),
                None => d,
            });
        }
        Error::Api {
            status,
            message,
            errors,
        } => {
            let mut placed = false;
            for e in errors {
                // Octopus errors often read "Name: must not be empty".
                let field = e.split_once(':').map(|(f, _)| f.trim()).unwrap_or_default();
                if let Some(path) = field_path.and_then(|f| f(field)) {
                    diags.push(
                        Diagnostic::error(
                            format!("Octopus rejected the value: {e}"),
                            message.clone(),
                        )
                        .at(path),
                    );
                    placed = true;
                }
            }
            if !placed {
                let detail = if errors.is_empty() {
                    message.clone()
                } else {
                    format!("{message}\n- {}", errors.join("\n- "))
                };
                diags.error(format!("Could not {action} (HTTP {status})"), detail);
            }
        }
        Error::Transport(e) if e.is_connect() || e.is_timeout() => diags.error(
            format!("Cannot reach the Octopus server to {action}"),
            format!("{e}\nIs the server running at the provider's `address` (or OCTOPUS_URL)?"),
        ),
        _ => diags.error(format!("Could not {action}"), err.to_string()),
    }
    diags
}

/// The attribute of model `M` that an Octopus field name (`LifecycleId`) refers to.
pub fn field_of<M: tf_sdk::Model>(field: &str) -> Option<AttributePath> {
    let mut snake = String::new();
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    M::block()
        .attribute(&snake)
        .map(|_| AttributePath::root(snake))
}

/// `Ok(None)` for a 404, so reads can tell "gone" from "failed".
pub fn not_found_as_none<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
