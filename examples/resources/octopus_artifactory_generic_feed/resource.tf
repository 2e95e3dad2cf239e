resource "octopus_artifactory_generic_feed" "generic" {
  name         = "Artifactory"
  feed_uri     = "https://acme.jfrog.io"
  repository   = "generic-local"
  layout_regex = "(?<orgPath>.+?)/(?<module>[^/]+)/(?<module>)-(?<baseRev>[^/]+?)"
  username     = "deployer"
  password     = "change-me" # better: a variable, or password_wo (Terraform 1.11+)
}
