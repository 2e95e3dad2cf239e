#!/bin/sh
# Pushes the build's package to the built-in feed in one request: PUT the file to
# .../packages/raw/<file name>, which names the package (web 1.0.0). A package of that
# ID and version already there is an error (409); add ?overwriteMode=OverwriteExisting
# to replace it. OCTOPUS_URL, OCTOPUS_APIKEY and OCTOPUS_SPACE_ID (e.g. Spaces-1) come
# from the CI job's secrets.
#
# The raw PUT is octopus-lite's; against Octopus Server use its multipart upload:
#   curl -fsS -H "X-Octopus-ApiKey: $OCTOPUS_APIKEY" -F "file=@dist/web.1.0.0.zip" \
#     "$OCTOPUS_URL/api/$OCTOPUS_SPACE_ID/packages/raw"
set -eu
curl -fsS -X PUT -H "X-Octopus-ApiKey: $OCTOPUS_APIKEY" -T dist/web.1.0.0.zip "$OCTOPUS_URL/api/$OCTOPUS_SPACE_ID/packages/raw/web.1.0.0.zip"
