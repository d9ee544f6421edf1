#!/bin/sh
# Fetch Debian's micropython 1.25.0+ds-1 source package from the trixie suite with a private apt
# configuration (host_tools/setup/debian_src.sh), so the machine's apt setup is not touched.
# Result: $1 (default build/mpsrc/micropython) holds the source with Debian's patches applied.
set -e
exec sh "$(dirname "$0")/debian_src.sh" micropython 1.25.0+ds-1 "${1:-build/mpsrc/micropython}"
