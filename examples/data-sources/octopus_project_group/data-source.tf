data "octopus_project_group" "default" {
  name = "Default Project Group"
}

output "default_project_group_id" {
  value = data.octopus_project_group.default.id
}
