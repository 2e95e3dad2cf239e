# The newest 1.x release of the web package in the built-in feed.
data "octopus_package_versions" "web" {
  package_id    = "web"
  version_range = "^1.0"
}

output "web_latest_1x" {
  value = data.octopus_package_versions.web.latest
}

# Every version, pre-releases included, newest first.
data "octopus_package_versions" "web_all" {
  package_id         = "web"
  include_prerelease = true
}

output "web_versions" {
  value = data.octopus_package_versions.web_all.versions
}
