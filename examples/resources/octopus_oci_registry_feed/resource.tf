resource "octopus_oci_registry_feed" "ghcr" {
  name     = "GitHub Container Registry"
  feed_uri = "oci://ghcr.io/acme"
  username = "acme"
  password = "change-me" # better: a variable, or password_wo (Terraform 1.11+)
}
