# A project in the provider's space:
terraform import octopus_project.web Projects-1
# A project in another space: <space ID>/<project ID>
terraform import octopus_project.web Spaces-2/Projects-7
