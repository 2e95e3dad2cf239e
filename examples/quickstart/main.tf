# Quickstart: three environments and two projects in the default space.
#
# The provider reads OCTOPUS_URL and OCTOPUS_APIKEY from the environment;
# scripts/quickstart starts an embedded octopus-lite server and sets them.
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

provider "octopus" {}

locals {
  environments = ["Development", "Staging", "Production"]
}

resource "octopus_environment" "stage" {
  for_each = toset(local.environments)

  name        = each.key
  description = "${each.key} environment, managed by Terraform"
  sort_order  = index(local.environments, each.key)
}

data "octopus_lifecycle" "default" {
  name = "Default Lifecycle"
}

resource "octopus_project" "api" {
  name         = "Orders API"
  description  = "Takes and tracks orders"
  lifecycle_id = data.octopus_lifecycle.default.id
}

resource "octopus_project" "web" {
  name        = "Storefront"
  description = "The public web shop"
}

output "environments" {
  value = { for name, env in octopus_environment.stage : name => env.id }
}

output "projects" {
  value = {
    (octopus_project.api.name) = octopus_project.api.id
    (octopus_project.web.name) = octopus_project.web.id
  }
}
