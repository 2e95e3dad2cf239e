# A standard deployment process that teams share: deploy a package with the script
# it ships, then smoke-test the result. Use it once per project.
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

variable "project_id" {
  description = "The project whose process this is."
  type        = string
}

variable "space_id" {
  description = "The project's space; the provider's when null."
  type        = string
  default     = null
}

variable "package_id" {
  description = "The package to deploy; it holds deploy.sh."
  type        = string
}

variable "health_url" {
  description = "Checked after the deployment."
  type        = string
}

resource "octopus_deployment_process" "this" {
  project_id = var.project_id
  space_id   = var.space_id

  step {
    name = "Deploy ${var.package_id}"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"           = "true"
      "Octopus.Action.Script.ScriptSource"   = "Package"
      "Octopus.Action.Script.ScriptFileName" = "deploy.sh"
    }
    primary_package = { package_id = var.package_id }
  }

  step {
    name = "Smoke test ${var.package_id}"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "curl -fsS ${var.health_url}"
    }
  }
}

output "process_id" {
  value = octopus_deployment_process.this.id
}
