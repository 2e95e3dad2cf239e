//! The Octopus Deploy provider: spaces, environments and projects as Terraform
//! resources, with data sources to look them up by name.
//!
//! Built with tf-sdk on the octopus-client crate, so it works against a real Octopus
//! Server and against the embedded `octopus-lite`.
//!
//! ```hcl
//! provider "octopus" {
//!   address = "http://127.0.0.1:8065"   # or OCTOPUS_URL
//!   api_key = var.octopus_api_key       # or OCTOPUS_APIKEY / OCTOPUS_API_KEY
//! }
//! resource "octopus_project" "web" {
//!   name = "web"
//! }
//! ```

pub mod data_sources;
pub mod docs;
mod errors;
pub mod resources;

use octopus_client::{Client, Config, Credentials, ListOptions, Named};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tf_sdk::{
    AttributePath, Diagnostic, Diagnostics, ErasedDataSource, ErasedResource, Model, Provider, Val,
};
use tokio::sync::OnceCell;

/// The provider's source address; users write `source = "octopus-rs/octopus"`.
pub const ADDRESS: &str = "registry.terraform.io/octopus-rs/octopus";

/// The provider block.
///
/// Every setting falls back to the environment variables users of the official
/// provider already have set.
#[derive(Model, Clone, Debug)]
pub struct ProviderConfig {
    /// The Octopus Server URL, e.g. `https://octopus.example.com`. Defaults to
    /// `OCTOPUS_URL`.
    #[tf(optional)]
    pub address: Val<String>,
    /// The API key (`API-...`). Defaults to `OCTOPUS_APIKEY` or `OCTOPUS_API_KEY`.
    #[tf(optional, sensitive)]
    pub api_key: Val<String>,
    /// The space resources live in when they do not say. Defaults to
    /// `OCTOPUS_SPACE_ID`, else the server's default space.
    #[tf(optional, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
}

/// The Octopus provider.
pub struct OctopusProvider;

/// What every resource gets: a client and the space to use by default.
pub struct Octopus {
    /// The API client.
    pub client: Client,
    configured_space: Option<String>,
    default_space: OnceCell<String>,
    space_defaults: Mutex<HashMap<String, Arc<OnceCell<SpaceDefaults>>>>,
    /// Installed step packages, read once per provider run when a plan needs them.
    pub(crate) step_catalog: resources::StepCatalog,
    /// The version of the Terraform (or OpenTofu) running the provider, as it told
    /// `configure`; empty when not configured by Terraform.
    pub terraform_version: String,
}

/// What a new project gets when it names no lifecycle or project group.
#[derive(Debug, Clone)]
pub struct SpaceDefaults {
    /// The space's "Default Lifecycle" (else its first lifecycle).
    pub lifecycle_id: String,
    /// The space's "Default Project Group" (else its first group).
    pub project_group_id: String,
}

/// The ID of the item called `name`, else of the first item.
async fn default_id<T: octopus_client::model::Resource + Named>(
    list: octopus_client::Collection<'_, T>,
    name: &str,
    what: &str,
) -> Result<String, Diagnostics> {
    let items = list
        .list_all(&ListOptions::default())
        .await
        .map_err(|e| errors::api(&format!("list {what}s"), e, None))?;
    let pick = items.iter().find(|i| i.name() == name).or(items.first());
    pick.and_then(|i| i.id().map(str::to_string))
        .ok_or_else(|| {
            Diagnostic::error(
                format!("The space has no {what}"),
                format!("Create a {what} first, or set it on the project."),
            )
            .into()
        })
}

impl Octopus {
    /// A provider context on `client`, with an optional default space.
    pub fn new(client: Client, space_id: Option<String>) -> Octopus {
        Octopus {
            client,
            configured_space: space_id,
            default_space: OnceCell::new(),
            space_defaults: Mutex::new(HashMap::new()),
            step_catalog: resources::StepCatalog::default(),
            terraform_version: String::new(),
        }
    }

    /// The space to use: `explicit` when known, else the provider's, else the
    /// server's default space (looked up once).
    pub async fn space(&self, explicit: &Val<String>) -> Result<String, Diagnostics> {
        if let Some(id) = explicit.known().filter(|s| !s.is_empty()) {
            return Ok(id.clone());
        }
        if let Some(id) = &self.configured_space {
            return Ok(id.clone());
        }
        self.default_space
            .get_or_try_init(|| async {
                self.client
                    .default_space_id()
                    .await
                    .map_err(|e| errors::api("find the default space", e, None))
            })
            .await
            .cloned()
    }

    /// Where an import looks: the space `import_id` names (`Spaces-2/Projects-1`), else
    /// the provider's space first and then every other space the API key can see
    /// (Octopus IDs are unique on a server). Returns the spaces and the bare ID.
    pub async fn import_spaces<'a>(
        &self,
        import_id: &'a str,
    ) -> Result<(Vec<String>, &'a str), Diagnostics> {
        if let Some((space, id)) = import_id.split_once('/') {
            return Ok((vec![space.to_string()], id));
        }
        let home = self.space(&Val::Null).await?;
        let all = self
            .client
            .spaces()
            .list_all(&ListOptions::default())
            .await
            .map_err(|e| errors::api("list spaces", e, None))?;
        let mut spaces = vec![home.clone()];
        spaces.extend(all.into_iter().filter_map(|s| s.id).filter(|s| *s != home));
        Ok((spaces, import_id))
    }

    /// The default lifecycle and project group of `space`, looked up once per
    /// provider run (a plan or apply creating many projects asks once, not per project).
    pub async fn space_defaults(&self, space: &str) -> Result<SpaceDefaults, Diagnostics> {
        let cell = self
            .space_defaults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(space.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let (lifecycle_id, project_group_id) = tokio::try_join!(
                default_id(
                    self.client.lifecycles(space),
                    "Default Lifecycle",
                    "lifecycle"
                ),
                default_id(
                    self.client.project_groups(space),
                    "Default Project Group",
                    "project group"
                ),
            )?;
            Ok(SpaceDefaults {
                lifecycle_id,
                project_group_id,
            })
        })
        .await
        .cloned()
    }
}

fn setting(value: &Val<String>, vars: &[&str]) -> Option<String> {
    value
        .known()
        .cloned()
        .or_else(|| vars.iter().find_map(|v| std::env::var(v).ok()))
        .filter(|s| !s.trim().is_empty())
}

impl Provider for OctopusProvider {
    type Config = ProviderConfig;
    type Data = Octopus;

    fn type_name(&self) -> &str {
        "octopus"
    }

    async fn configure(&self, config: ProviderConfig, tf: String) -> Result<Octopus, Diagnostics> {
        let mut diags = Diagnostics::new();
        if config.address.is_unknown()
            || config.api_key.is_unknown()
            || config.space_id.is_unknown()
        {
            diags.error(
                "Provider configuration not known yet",
                "address, api_key and space_id must be known at plan time; they cannot depend on \
                 resources that are not created yet.",
            );
            return Err(diags);
        }
        let address = setting(&config.address, &["OCTOPUS_URL"]);
        let api_key = setting(&config.api_key, &["OCTOPUS_APIKEY", "OCTOPUS_API_KEY"]);
        if address.is_none() {
            diags.push(
                Diagnostic::error(
                    "Missing Octopus address",
                    "Set `address` in the provider block or the OCTOPUS_URL environment variable.",
                )
                .at(AttributePath::root("address")),
            );
        }
        if api_key.is_none() {
            diags.push(
                Diagnostic::error(
                    "Missing Octopus API key",
                    "Set `api_key` in the provider block or the OCTOPUS_APIKEY (or OCTOPUS_API_KEY) \
                     environment variable.",
                )
                .at(AttributePath::root("api_key")),
            );
        }
        let (Some(address), Some(api_key)) = (address, api_key) else {
            return Err(diags);
        };
        let client_config = Config::new(address, Credentials::ApiKey(api_key));
        let client = Client::new(client_config).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error("Invalid provider configuration", e.to_string())
                    .at(AttributePath::root("address")),
            )
        })?;
        let mut octopus = Octopus::new(client, setting(&config.space_id, &["OCTOPUS_SPACE_ID"]));
        octopus.terraform_version = tf;
        Ok(octopus)
    }

    fn resources(&self) -> Vec<Box<dyn ErasedResource<Octopus>>> {
        resources::all()
    }

    fn data_sources(&self) -> Vec<Box<dyn ErasedDataSource<Octopus>>> {
        data_sources::all()
    }
}
