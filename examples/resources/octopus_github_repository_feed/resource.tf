resource "octopus_github_repository_feed" "releases" {
  name     = "GitHub releases"
  feed_uri = "https://api.github.com"
  # A token raises GitHub's rate limit and reaches private repositories.
  password = "ghp_change-me"
}
