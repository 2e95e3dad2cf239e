data "octopus_space" "default" {
  name = "Default"
}

output "default_space_id" {
  value = data.octopus_space.default.id
}
