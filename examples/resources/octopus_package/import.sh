# By the package's ID, in whichever space the API key can see it:
terraform import octopus_package.web packages-web.1.2.3
# Or by <package ID>.<version>, or naming the space: <space ID>/<package ID>.<version>
terraform import octopus_package.web web.1.2.3
terraform import octopus_package.web Spaces-2/web.1.2.3
