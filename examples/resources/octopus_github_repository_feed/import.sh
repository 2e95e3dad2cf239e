# By ID, in whichever space the API key can see it (Octopus IDs are unique on a server):
terraform import octopus_github_repository_feed.releases Feeds-1
# Or naming the space: <space ID>/<feed ID>
terraform import octopus_github_repository_feed.releases Spaces-2/Feeds-7
