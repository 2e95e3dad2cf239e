# Installs a step package on the server (step packages are server-wide). The server
# must trust it: octopus-lite --trust-step-package acme-deploy
resource "octopus_step_package" "deploy" {
  source = "${path.module}/step-packages/acme-deploy.1.0.0.zip"
}

output "deploy_steps" {
  value = [for s in octopus_step_package.deploy.steps : s.id]
}
