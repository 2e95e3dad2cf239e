data "octopus_step_package" "notify" {
  id      = "acme-notify"
  version = "1"
}

output "notify_version" {
  value = data.octopus_step_package.notify.resolved_version
}

output "notify_inputs_schema" {
  value = jsondecode(data.octopus_step_package.notify.inputs_schema)
}
