# With keys:
resource "octopus_aws_elastic_container_registry" "keys" {
  name       = "ECR (keys)"
  region     = "eu-west-1"
  access_key = "AKIAIOSFODNN7EXAMPLE"
  secret_key = "change-me" # better: a variable, or secret_key_wo (Terraform 1.11+)
}

# With OIDC: Octopus assumes a role, no keys stored.
resource "octopus_aws_elastic_container_registry" "oidc" {
  name   = "ECR (OIDC)"
  region = "us-east-1"
  oidc_authentication = {
    role_arn     = "arn:aws:iam::123456789012:role/octopus-ecr"
    audience     = "sts.amazonaws.com"
    subject_keys = ["space", "feed"]
  }
}
