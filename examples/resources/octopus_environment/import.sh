# By ID, in whichever space the API key can see it (Octopus IDs are unique on a server):
terraform import octopus_environment.staging Environments-1
# Or naming the space: <space ID>/<environment ID>
terraform import octopus_environment.staging Spaces-2/Environments-7
