# By <owner ID>:<variable ID>, in whichever space the API key can see the owner:
terraform import octopus_variable.url Projects-1:6f1e2c3a-5b7d-4e8f-9a0b-1c2d3e4f5a6b
# Or naming the space: <space ID>/<owner ID>:<variable ID>
terraform import octopus_variable.url Spaces-2/Projects-7:6f1e2c3a-5b7d-4e8f-9a0b-1c2d3e4f5a6b
