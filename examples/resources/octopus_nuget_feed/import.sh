# By ID, in whichever space the API key can see it (Octopus IDs are unique on a server):
terraform import octopus_nuget_feed.nuget_org Feeds-1
# Or naming the space: <space ID>/<feed ID>
terraform import octopus_nuget_feed.nuget_org Spaces-2/Feeds-7
