//! Feeds: the built-in feed in every space, external feeds, and secrets that
//! are stored but never returned.

use octopus_client::model::feed::BUILT_IN_FEED_ID;
use octopus_client::model::{Feed, FeedType, Links, SensitiveValue};
use rusqlite::Connection;

use super::crud::ApiResource;
use super::resources::finish;
use crate::error::{ApiError, ApiResult};
use crate::util::{check_len, check_name};

/// Longest accepted URI.
const MAX_URI: usize = 2048;

/// Feed types whose `FeedUri` is required.
fn needs_uri(t: FeedType) -> bool {
    !matches!(
        t,
        FeedType::BuiltIn
            | FeedType::OctopusProject
            | FeedType::AwsElasticContainerRegistry
            | FeedType::S3
            | FeedType::GcsStorage
            | FeedType::Unknown
    )
}

/// Applies write semantics of a [`SensitiveValue`]: a non-empty `NewValue`
/// sets the secret, `HasValue: true` alone keeps the stored one, anything
/// else clears it.
pub fn merge_secret(incoming: &mut Option<SensitiveValue>, stored: Option<&SensitiveValue>) {
    *incoming = match incoming.take() {
        Some(SensitiveValue {
            new_value: Some(v),
            hint,
            ..
        }) if !v.is_empty() => Some(SensitiveValue {
            has_value: true,
            new_value: Some(v),
            hint,
        }),
        Some(SensitiveValue {
            new_value: None,
            has_value: true,
            ..
        }) => stored.filter(|s| s.has_value).cloned(),
        _ => None,
    };
}

/// The read form of a secret: `{HasValue}` only.
pub fn redact_secret(v: &mut Option<SensitiveValue>) {
    if let Some(s) = v {
        s.has_value = s.has_value || s.new_value.is_some();
        s.new_value = None;
    }
}

impl ApiResource for Feed {
    const ID_PREFIX: &'static str = "Feeds";
    const ITEM_TYPE: &'static str = "Feed";
    const JSON_FILTERS: &'static [(&'static str, &'static str)] = &[("feedtype", "$.FeedType")];

    fn prepare(
        &mut self,
        _tx: &Connection,
        _space: &str,
        existing: Option<&Self>,
    ) -> ApiResult<()> {
        self.name = self.name.trim().to_owned();
        let mut errors = Vec::new();
        check_name("Name", &self.name, Self::MAX_NAME, &mut errors);
        let builtin_id = self.id.as_deref() == Some(BUILT_IN_FEED_ID);
        match (self.feed_type, existing) {
            (FeedType::Unknown, _) => {
                errors.push("FeedType: The FeedType is not a known feed type.".into())
            }
            (FeedType::BuiltIn, _) if !builtin_id => errors.push(
                "FeedType: Only the built-in feed 'feeds-builtin' can be of type BuiltIn.".into(),
            ),
            (t, Some(e)) if t != e.feed_type => {
                errors.push("FeedType: The FeedType of a feed cannot be changed.".into())
            }
            _ => {}
        }
        let uri = self.feed_uri.as_deref().map(str::trim).unwrap_or_default();
        if needs_uri(self.feed_type) && uri.is_empty() {
            errors.push("FeedUri: The FeedUri field is required for this feed type.".into());
        }
        check_len("FeedUri", self.feed_uri.as_deref(), MAX_URI, &mut errors);
        if !uri.is_empty() && !uri.contains("://") {
            errors.push("FeedUri: The FeedUri must be an absolute URI.".into());
        }
        if self.feed_type == FeedType::AwsElasticContainerRegistry
            && self.region.as_deref().is_none_or(str::is_empty)
        {
            errors.push("Region: The Region field is required for this feed type.".into());
        }
        if self.feed_type == FeedType::ArtifactoryGeneric
            && self
                .repository
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            errors.push("Repository: The Repository field is required for this feed type.".into());
        }
        for (field, v) in [
            ("Username", &self.username),
            ("AccessKey", &self.access_key),
            ("Region", &self.region),
            ("Repository", &self.repository),
        ] {
            check_len(field, v.as_deref(), 500, &mut errors);
        }
        if self
            .download_attempts
            .is_some_and(|n| !(0..=100).contains(&n))
        {
            errors.push("DownloadAttempts: must be between 0 and 100.".into());
        }
        if self
            .download_retry_backoff_seconds
            .is_some_and(|n| !(0..=3600).contains(&n))
        {
            errors.push("DownloadRetryBackoffSeconds: must be between 0 and 3600.".into());
        }
        finish(errors)?;
        let stored = existing.cloned();
        let mut stored_fields = stored.map(|mut s| {
            [
                s.password.take(),
                s.secret_key.take(),
                s.service_account_json_key.take(),
            ]
        });
        for (i, field) in self.sensitive_fields_mut().into_iter().enumerate() {
            let old = stored_fields.as_mut().and_then(|f| f[i].take());
            merge_secret(field, old.as_ref());
        }
        Ok(())
    }
    fn before_delete(&self, _tx: &Connection, _space: &str) -> ApiResult<()> {
        if self.id.as_deref() == Some(BUILT_IN_FEED_ID) {
            return Err(ApiError::bad_request(
                "The built-in feed cannot be deleted.",
            ));
        }
        Ok(())
    }
    fn redact(&mut self) {
        for f in self.sensitive_fields_mut() {
            redact_secret(f);
        }
        // Octopus always reports it on the built-in feed (its clients require it); the
        // feed of a store seeded before octopus-lite did lacks it.
        if self.feed_type == FeedType::BuiltIn {
            self.is_built_in_repo_sync_enabled.get_or_insert(false);
        }
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        if let Some(id) = &self.id {
            links.insert(
                "SearchPackageVersionsTemplate".into(),
                format!("/api/{space}/feeds/{id}/packages/versions{{?packageId,take,skip,includePreRelease,versionRange,preReleaseTag,filter,includeReleaseNotes}}"),
            );
            links.insert(
                "SearchPackagesTemplate".into(),
                format!("/api/{space}/feeds/{id}/packages/search{{?term,skip,take}}"),
            );
        }
    }
}
