resource "octopus_environment" "production" {
  name = "Production"
}

resource "octopus_project" "web" {
  name = "Web"
}

resource "octopus_deployment_process" "web" {
  project_id = octopus_project.web.id

  # Scripts as code: run deploy.sh from the package that is being released.
  step {
    name = "Deploy"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"             = "true"
      "Octopus.Action.Script.ScriptSource"     = "Package"
      "Octopus.Action.Script.ScriptFileName"   = "deploy.sh"
      "Octopus.Action.Script.ScriptParameters" = "--environment #{Octopus.Environment.Name}"
    }
    primary_package = { package_id = "web" }
    environments    = [octopus_environment.production.id]
  }

  # An inline script.
  step {
    name = "Smoke test"
    type = "Octopus.Script"
    execution_properties = {
      "Octopus.Action.RunOnServer"         = "true"
      "Octopus.Action.Script.ScriptSource" = "Inline"
      "Octopus.Action.Script.Syntax"       = "Bash"
      "Octopus.Action.Script.ScriptBody"   = "curl -fsS https://web.example.com/health"
    }
  }

  # A step from a step package: its inputs are checked at plan time against the
  # installed package's schema. Version "1" follows the server's minor upgrades.
  step {
    name = "Notify"
    step_package = {
      id      = "acme-notify"
      version = "1"
      inputs  = { channel = "#releases", retries = 3 }
      # sensitive_inputs = { token = var.slack_token }
    }
  }
}
