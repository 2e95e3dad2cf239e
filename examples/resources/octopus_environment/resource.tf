resource "octopus_environment" "staging" {
  name               = "Staging"
  description        = "Pre-production checks"
  use_guided_failure = true
}
