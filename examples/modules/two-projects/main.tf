# Two projects sharing the standard process of ../standard-process.
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

provider "octopus" {}

resource "octopus_project" "web" {
  name = "Web"
}

resource "octopus_project" "api" {
  name = "API"
}

module "web_process" {
  source     = "../standard-process"
  project_id = octopus_project.web.id
  package_id = "web"
  health_url = "https://web.example.com/health"
}

module "api_process" {
  source     = "../standard-process"
  project_id = octopus_project.api.id
  package_id = "api"
  health_url = "https://api.example.com/health"
}
