# An environment in the provider's space:
terraform import octopus_environment.staging Environments-1
# An environment in another space: <space ID>/<environment ID>
terraform import octopus_environment.staging Spaces-2/Environments-7
