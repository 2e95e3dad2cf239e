resource "octopus_space" "platform" {
  name        = "Platform"
  description = "Everything the platform team deploys"
}
