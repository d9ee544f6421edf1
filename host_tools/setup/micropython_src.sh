#!/bin/sh
# Fetch Debian's micropython 1.25.0+ds-1 source package from the trixie suite with a private apt
# configuration (own sources list, lists and cache directories), so the machine's apt setup is not
# touched. The archive URI is read from the machine's own Debian sources at run time.
# Result: $1 (default build/mpsrc/micropython) holds the source with Debian's patches applied.
set -e
DEST=${1:-build/mpsrc/micropython}
VERSION=1.25.0+ds-1
[ -f "$DEST/.unpacked-$VERSION" ] && exit 0
WORK=$(dirname "$DEST")/apt
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/dl"

uri=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
        /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
        /etc/apt/sources.list)
fi
[ -n "$uri" ] || { echo "setup: no Debian archive URI found in the machine's apt sources" >&2; exit 1; }

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb-src [signed-by=$keyring] $uri trixie main" > "$WORK/sources.list"
APT="apt-get -q -o Dir::Etc::SourceList=$PWD/$WORK/sources.list -o Dir::Etc::SourceParts=/dev/null \
 -o Dir::State::Lists=$PWD/$WORK/lists -o Dir::Cache=$PWD/$WORK/cache -o APT::Sandbox::User=root"
echo "setup: fetching micropython $VERSION source (trixie)"
$APT update >/dev/null
(cd "$WORK/dl" && $APT source --download-only "micropython=$VERSION" >/dev/null)
rm -rf "$DEST"
dpkg-source --no-check -x "$WORK/dl/micropython_$VERSION.dsc" "$DEST" >/dev/null
touch "$DEST/.unpacked-$VERSION"
