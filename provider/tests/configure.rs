//! Provider configuration falls back to the environment variables users of the
//! official provider already have set.

use terraform_provider_octopus::{OctopusProvider, ProviderConfig};
use tf_sdk::{Provider, Val};

fn empty() -> ProviderConfig {
    ProviderConfig {
        address: Val::Null,
        api_key: Val::Null,
        space_id: Val::Null,
    }
}

#[tokio::test]
async fn settings_come_from_the_block_or_the_environment() {
    // One test in this binary touches the environment, so nothing races with it.
    for k in [
        "OCTOPUS_URL",
        "OCTOPUS_APIKEY",
        "OCTOPUS_API_KEY",
        "OCTOPUS_SPACE_ID",
    ] {
        unsafe { std::env::remove_var(k) };
    }
    let err = OctopusProvider
        .configure(empty(), "1.0.3".into())
        .await
        .err()
        .expect("nothing configured");
    let paths: Vec<String> = err
        .0
        .iter()
        .map(|d| d.path.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["address", "api_key"], "{err}");
    assert!(err.0[0].detail.contains("OCTOPUS_URL"));
    assert!(err.0[1].detail.contains("OCTOPUS_APIKEY"));

    // OCTOPUS_API_KEY is accepted as well as OCTOPUS_APIKEY.
    unsafe {
        std::env::set_var("OCTOPUS_URL", "http://127.0.0.1:1");
        std::env::set_var("OCTOPUS_API_KEY", "API-FROMENV");
        std::env::set_var("OCTOPUS_SPACE_ID", "Spaces-42");
    }
    let data = OctopusProvider
        .configure(empty(), "1.0.3".into())
        .await
        .expect("configured from env");
    assert_eq!(data.client.config().url, "http://127.0.0.1:1");
    assert_eq!(data.space(&Val::Null).await.unwrap(), "Spaces-42");
    assert_eq!(
        data.space(&Val::Known("Spaces-7".into())).await.unwrap(),
        "Spaces-7"
    );

    // The block wins over the environment.
    let block = ProviderConfig {
        address: Val::Known("http://127.0.0.1:2".into()),
        api_key: Val::Known("API-FROMBLOCK".into()),
        space_id: Val::Known("Spaces-3".into()),
    };
    let data = OctopusProvider
        .configure(block, "1.0.3".into())
        .await
        .unwrap();
    assert_eq!(data.client.config().url, "http://127.0.0.1:2");
    assert_eq!(data.space(&Val::Null).await.unwrap(), "Spaces-3");

    // Unknown values (from resources not created yet) are refused with a reason.
    let unknown = ProviderConfig {
        address: Val::Unknown,
        ..empty()
    };
    let err = OctopusProvider
        .configure(unknown, "1.0.3".into())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("not known yet"), "{err}");
}
