resource "octopus_helm_feed" "charts" {
  name     = "Team charts"
  feed_uri = "https://charts.example.com"
  username = "charts-reader"
  password = "change-me" # better: a variable, or password_wo (Terraform 1.11+)
}
