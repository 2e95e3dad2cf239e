# Configure the provider in the provider block, or leave it empty and set
# OCTOPUS_URL, OCTOPUS_APIKEY (or OCTOPUS_API_KEY) and OCTOPUS_SPACE_ID.
provider "octopus" {
  address  = "http://127.0.0.1:8065"
  api_key  = var.octopus_api_key
  space_id = "Spaces-1"
}

variable "octopus_api_key" {
  type      = string
  sensitive = true
}
