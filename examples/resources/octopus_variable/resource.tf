resource "octopus_environment" "production" {
  name = "Production"
}

resource "octopus_project" "app" {
  name = "App"
}

# A plain value, only in Production and on targets with the role "web".
resource "octopus_variable" "url" {
  owner_id    = octopus_project.app.id
  name        = "App.Url"
  value       = "https://app.example.com"
  description = "Where the app answers"

  scope {
    environments = [octopus_environment.production.id]
    roles        = ["web"]
  }
}

# A secret: Terraform hides sensitive_value in plans and output, and the server
# never returns it.
resource "octopus_variable" "db_password" {
  owner_id        = octopus_project.app.id
  name            = "Db.Password"
  type            = "Sensitive"
  sensitive_value = "change-me" # in practice: var.db_password
}
