//! `terraform-provider-octopus`: the plugin binary Terraform and OpenTofu start.

fn main() -> std::process::ExitCode {
    tf_sdk::serve(
        terraform_provider_octopus::OctopusProvider,
        tf_sdk::ServeOptions::from_args(terraform_provider_octopus::ADDRESS),
    )
}
