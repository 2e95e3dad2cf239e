# Pushes a local file to the space's built-in feed. The file name gives the package
# ID and version (web 1.2.3); new content in the file replaces the package.
resource "octopus_package" "web" {
  source = "${path.module}/dist/web.1.2.3.zip"
}

# A build output whose name is not a package file name: name it with file_name.
resource "octopus_package" "api" {
  source    = "${path.module}/dist/api.zip"
  file_name = "Orders.Api.2.0.0.zip"
}

output "web_sha256" {
  value = octopus_package.web.sha256
}
