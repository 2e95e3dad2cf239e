data "octopus_lifecycle" "default" {
  name = "Default Lifecycle"
}

output "default_lifecycle_id" {
  value = data.octopus_lifecycle.default.id
}
