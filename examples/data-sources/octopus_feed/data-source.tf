data "octopus_feed" "built_in" {
  name      = "Octopus Server (built-in)"
  feed_type = "BuiltIn"
}

output "built_in_feed_id" {
  value = data.octopus_feed.built_in.id
}
