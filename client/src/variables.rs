//! Variable sets (`/api/{spaceId}/variables/{id}`): read, replace, and
//! [`Variables::modify_set`], the read-modify-write that survives concurrent writers.
//!
//! A set is written whole, with the `Version` last read; a writer that lost the race
//! gets 409. Terraform applies many variables of one project in parallel, so every
//! single-variable change goes through [`Variables::modify_set`], which re-reads and
//! re-applies its change on 409.

use std::time::Duration;

use reqwest::Method;

use crate::client::segment;
use crate::model::VariableSet;
use crate::{Client, Error, RetryPolicy, retry};

/// How often [`Variables::modify_set`] tries a write before giving up on 409s.
pub const MAX_MODIFY_ATTEMPTS: u32 = 25;

/// Backoff between attempts of [`Variables::modify_set`]: short, doubling, capped,
/// with jitter so parallel writers do not retry in lockstep.
const MODIFY_BACKOFF: RetryPolicy = RetryPolicy {
    max_retries: MAX_MODIFY_ATTEMPTS,
    initial_backoff: Duration::from_millis(10),
    max_backoff: Duration::from_millis(400),
};

/// Why [`Variables::modify_set`] did not write.
#[derive(Debug, thiserror::Error)]
pub enum ModifyError<E> {
    /// A request failed (including a 409 on every attempt).
    #[error(transparent)]
    Api(#[from] Error),
    /// The change refused to apply to the set as read (e.g. the variable is gone).
    #[error("the change could not be applied to the variable set")]
    Rejected(E),
}

/// The variable sets of a space. Get one with [`Client::variables`].
#[derive(Debug, Clone)]
pub struct Variables<'a> {
    pub(crate) client: &'a Client,
    pub(crate) space_id: String,
}

impl Variables<'_> {
    fn item(&self, id: &str) -> String {
        format!("/api/{}/variables/{}", segment(&self.space_id), segment(id))
    }

    /// The set with this ID (`variableset-Projects-1`, or a snapshot's ID).
    pub async fn get(&self, id: &str) -> Result<VariableSet, Error> {
        self.client.get_json(&self.item(id), &[]).await
    }

    /// The set a project owns.
    pub async fn get_for_owner(&self, owner_id: &str) -> Result<VariableSet, Error> {
        self.get(&VariableSet::id_for_owner(owner_id)).await
    }

    /// The sets with these IDs (`GET /variables?ids=`; missing ones are left out).
    pub async fn list(&self, ids: &[String]) -> Result<Vec<VariableSet>, Error> {
        let path = format!("/api/{}/variables", segment(&self.space_id));
        self.client.get_json(&path, &[("ids", ids.join(","))]).await
    }

    /// Replaces the whole set and returns it as stored. `Version` must be the one last
    /// read, otherwise the server answers 409 ([`Error::is_conflict`]). A sensitive
    /// variable sent with its `Id` and no value keeps its stored value; one sent without
    /// an `Id` and without a value has none.
    pub async fn update(&self, set: &VariableSet) -> Result<VariableSet, Error> {
        let id = set
            .id
            .as_deref()
            .ok_or_else(|| Error::Config("update needs a variable set with an Id".into()))?;
        self.client
            .request(Method::PUT, &self.item(id), &[], Some(set))
            .await
    }

    /// Reads set `id`, applies `change` to it and writes it back; on 409 (another
    /// writer saved the set in between) reads it again and re-applies `change`, up to
    /// [`MAX_MODIFY_ATTEMPTS`] times with a short jittered backoff. When `change` leaves
    /// the variables as they were, nothing is written. Returns the set as stored and
    /// what the last run of `change` returned.
    pub async fn modify_set<T, E>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut VariableSet) -> Result<T, E>,
    ) -> Result<(VariableSet, T), ModifyError<E>> {
        let mut attempt = 0u32;
        loop {
            let mut set = self.get(id).await?;
            let before = set.variables.clone();
            let out = change(&mut set).map_err(ModifyError::Rejected)?;
            if set.variables == before {
                return Ok((set, out));
            }
            match self.update(&set).await {
                Ok(saved) => return Ok((saved, out)),
                Err(e) if e.is_conflict() && attempt + 1 < MAX_MODIFY_ATTEMPTS => {
                    tokio::time::sleep(retry::backoff(&MODIFY_BACKOFF, attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
