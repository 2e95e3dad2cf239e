resource "octopus_nuget_feed" "nuget_org" {
  name     = "nuget.org"
  feed_uri = "https://api.nuget.org/v3/index.json"
}

resource "octopus_nuget_feed" "internal" {
  name                                 = "Internal NuGet"
  feed_uri                             = "https://nuget.example.com/v3/index.json"
  username                             = "build-agent"
  password                             = "change-me" # better: a variable, or password_wo (Terraform 1.11+)
  download_attempts                    = 3
  download_retry_backoff_seconds       = 20
  package_acquisition_location_options = ["Server", "ExecutionTarget"]
}
