# By <package ID>/<version> (or <package ID>.<version>):
terraform import octopus_step_package.deploy acme-deploy/1.0.0
