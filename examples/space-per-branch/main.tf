# Space per branch: the branch's pipeline runs `terraform apply -var branch=<name>`
# to get a space of its own with its environments, project and process, and
# `terraform destroy` when the branch is merged or deleted. Keep one state per branch
# (a workspace or a backend key named after it).
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

provider "octopus" {}

variable "branch" {
  description = "The branch name; names the space."
  type        = string
}

resource "octopus_space" "branch" {
  name        = "branch-${var.branch}"
  description = "Everything for branch ${var.branch}; destroyed with the branch."
}

resource "octopus_environment" "stage" {
  for_each = toset(["Development", "Test"])
  space_id = octopus_space.branch.id
  name     = each.key
}

resource "octopus_project" "web" {
  space_id = octopus_space.branch.id
  name     = "Web"
}

module "web_process" {
  source     = "../modules/standard-process"
  space_id   = octopus_space.branch.id
  project_id = octopus_project.web.id
  package_id = "web"
  health_url = "https://${var.branch}.web.example.com/health"
}

output "space_id" {
  value = octopus_space.branch.id
}
