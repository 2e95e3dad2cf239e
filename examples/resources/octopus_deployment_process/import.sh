# By project ID (or process ID, deploymentprocess-Projects-1), in whichever space the
# API key can see it:
terraform import octopus_deployment_process.web Projects-1
# Or naming the space: <space ID>/<project ID>
terraform import octopus_deployment_process.web Spaces-2/Projects-7
