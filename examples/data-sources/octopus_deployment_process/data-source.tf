data "octopus_deployment_process" "web" {
  project_id = data.octopus_project.web.id
}

output "web_step_names" {
  value = data.octopus_deployment_process.web.step_names
}
