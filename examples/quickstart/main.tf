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

# A project variable, and a process whose script really runs when the project is
# deployed (scripts/quickstart deploys it to Development).
resource "octopus_variable" "api_url" {
  owner_id = octopus_project.api.id
  name     = "Api.Url"
  value    = "https://orders.example.com"
}

resource "octopus_deployment_process" "api" {
  project_id = octopus_project.api.id

  step {
    name = "Say hello"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "echo \"Deploying #{Octopus.Project.Name} #{Octopus.Release.Number} to #{Octopus.Environment.Name}; it will answer at #{Api.Url}\""
    }
  }
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
