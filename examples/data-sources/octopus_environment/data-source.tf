# Look up an environment another team manages.
data "octopus_environment" "production" {
  name = "Production"
}

output "production_environment_id" {
  value = data.octopus_environment.production.id
}
