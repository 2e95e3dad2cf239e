resource "octopus_npm_feed" "npmjs" {
  name     = "npmjs"
  feed_uri = "https://registry.npmjs.org"
}
