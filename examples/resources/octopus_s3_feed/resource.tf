resource "octopus_s3_feed" "artifacts" {
  name                    = "S3 artifacts"
  use_machine_credentials = false
  access_key              = "AKIAIOSFODNN7EXAMPLE"
  secret_key              = "change-me" # better: a variable, or secret_key_wo (Terraform 1.11+)
}
