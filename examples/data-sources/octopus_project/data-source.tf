data "octopus_project" "web" {
  name = "Web"
}

output "web_deployment_process_id" {
  value = data.octopus_project.web.deployment_process_id
}
