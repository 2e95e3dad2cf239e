resource "octopus_maven_feed" "central" {
  name     = "Maven Central"
  feed_uri = "https://repo.maven.apache.org/maven2/"
}
