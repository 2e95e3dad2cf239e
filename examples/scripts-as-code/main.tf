# Scripts as code: a process whose steps really run when it is deployed, with a
# project variable, a secret that never shows in the log, and an output variable
# one step hands to the next.
#
# Deploy it with the octopus CLI, Octopus's own clients, or the API:
#   POST /api/{spaceId}/releases/create/v1   {"ProjectName": "Hello"}
#   POST /api/{spaceId}/deployments/create/untenanted/v1
#        {"ProjectName": "Hello", "ReleaseVersion": "0.0.1", "EnvironmentNames": ["Development"]}
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

provider "octopus" {}

variable "greeting_token" {
  type      = string
  sensitive = true
  default   = "s3cr3t-token"
}

resource "octopus_environment" "development" {
  name       = "Development"
  sort_order = 0
}

resource "octopus_environment" "production" {
  name       = "Production"
  sort_order = 1
}

resource "octopus_project" "hello" {
  name = "Hello"
}

resource "octopus_variable" "audience" {
  owner_id = octopus_project.hello.id
  name     = "Audience"
  value    = "world"
}

resource "octopus_variable" "audience_production" {
  owner_id = octopus_project.hello.id
  name     = "Audience"
  value    = "everyone"
  scope {
    environments = [octopus_environment.production.id]
  }
}

resource "octopus_variable" "token" {
  owner_id        = octopus_project.hello.id
  name            = "Greeting.Token"
  type            = "Sensitive"
  sensitive_value = var.greeting_token
}

resource "octopus_deployment_process" "hello" {
  project_id = octopus_project.hello.id

  step {
    name = "Greet"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = <<-EOT
        echo "Hello, #{Audience}, from #{Octopus.Environment.Name} (release #{Octopus.Release.Number})"
        echo "Using token #{Greeting.Token}"
        set_octopusvariable Greeting "Hello, #{Audience}"
      EOT
    }
  }

  step {
    name = "Report"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "echo \"The first step said: #{Octopus.Action[Greet].Output.Greeting}\""
    }
  }
}

output "project_id" {
  value = octopus_project.hello.id
}
