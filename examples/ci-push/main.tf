# Two ways to get a build's package into a space's built-in feed.
#
# 1. From the CI job, one line (push.sh): the request body is the file, the URL names it.
#
#      curl -fsS -X PUT -H "X-Octopus-ApiKey: $OCTOPUS_APIKEY" -T dist/web.1.0.0.zip \
#        "$OCTOPUS_URL/api/$OCTOPUS_SPACE_ID/packages/raw/web.1.0.0.zip"
#
#    Quick, and the package belongs to the CI run: Terraform knows nothing of it.
#
# 2. As code (below): the package is part of the configuration. A plan shows it,
#    new content in the file replaces it, a package deleted or overwritten on the
#    server is pushed again, and destroy removes it.
#
# The provider reads OCTOPUS_URL, OCTOPUS_APIKEY and OCTOPUS_SPACE_ID.
terraform {
  required_providers {
    octopus = {
      source = "octopus-rs/octopus"
    }
  }
}

provider "octopus" {}

resource "octopus_package" "web" {
  source = "${path.module}/dist/web.1.0.1.zip"
}

output "pushed" {
  value = "${octopus_package.web.package_id} ${octopus_package.web.version} (sha256 ${octopus_package.web.sha256})"
}
