resource "octopus_docker_container_registry" "hub" {
  name                                 = "Docker Hub"
  feed_uri                             = "https://index.docker.io"
  api_version                          = "v2"
  username                             = "acme"
  password                             = "change-me" # better: a variable, or password_wo (Terraform 1.11+)
  package_acquisition_location_options = ["ExecutionTarget", "NotAcquired"]
}
