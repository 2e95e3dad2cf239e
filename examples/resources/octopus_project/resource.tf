# With only a name, the project joins the space's default project group and
# lifecycle.
resource "octopus_project" "web" {
  name        = "Web"
  description = "The public web site"
}
