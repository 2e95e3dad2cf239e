# By ID, in whichever space the API key can see it (Octopus IDs are unique on a server):
terraform import octopus_project.web Projects-1
# Or naming the space: <space ID>/<project ID>
terraform import octopus_project.web Spaces-2/Projects-7
