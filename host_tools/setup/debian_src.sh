#!/bin/sh
# Fetch a package of Debian's trixie suite with a private apt configuration (own sources list,
# lists and cache directories under build/mpsrc/apt), so the machine's apt setup is not touched.
#
#   sh host_tools/setup/debian_src.sh PACKAGE VERSION DEST          source package, unpacked with
#                                                                   dpkg-source (patches applied)
#   MODE=orig sh host_tools/setup/debian_src.sh PACKAGE VERSION DEST   only the upstream tarball of
#                                                                   the source package, unpacked
#   MODE=deb sh host_tools/setup/debian_src.sh PACKAGE VERSION DEST    an architecture-independent
#                                                                   binary package (e.g. pico-sdk-
#                                                                   source), extracted with dpkg-deb
#
# apt checks every file against the signed archive index. The archive URI is read from the
# machine's own Debian sources at run time. Idempotent: DEST holds a stamp .unpacked-VERSION.
set -e
PKG=$1
VERSION=$2
DEST=$3
[ -n "$DEST" ] || { echo "usage: debian_src.sh PACKAGE VERSION DEST" >&2; exit 2; }
[ -f "$DEST/.unpacked-$VERSION" ] && exit 0
WORK=build/mpsrc/apt
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
printf 'deb-src [signed-by=%s] %s trixie main\ndeb [signed-by=%s arch=amd64] %s trixie main\n' \
    "$keyring" "$uri" "$keyring" "$uri" > "$WORK/sources.list"
APT="apt-get -q -o Dir::Etc::SourceList=$PWD/$WORK/sources.list -o Dir::Etc::SourceParts=/dev/null \
 -o Dir::State::Lists=$PWD/$WORK/lists -o Dir::Cache=$PWD/$WORK/cache -o APT::Sandbox::User=root"
MODE=${MODE:-source}
echo "setup: fetching $PKG $VERSION ($MODE, trixie)"
# one apt update per hour is enough (the lists are private to this build directory)
if [ -z "$(find "$WORK/lists" -name '*Packages*' -mmin -60 2>/dev/null | head -1)" ]; then
    $APT update >/dev/null
fi
V=$(echo "$VERSION" | sed 's/^[0-9]*://')
rm -rf "$DEST"
mkdir -p "$DEST"
case $MODE in
    source)
        (cd "$WORK/dl" && $APT source --download-only "$PKG=$VERSION" >/dev/null)
        rmdir "$DEST"
        dpkg-source --no-check -x "$WORK/dl/${PKG}_$V.dsc" "$DEST" >/dev/null
        ;;
    orig)
        (cd "$WORK/dl" && $APT source --download-only --tar-only "$PKG=$VERSION" >/dev/null)
        tar -xf "$(ls "$WORK/dl/${PKG}_${V%-*}.orig.tar."* | head -1)" -C "$DEST" --strip-components=1
        ;;
    deb)
        (cd "$WORK/dl" && $APT download "$PKG=$VERSION" >/dev/null)
        dpkg-deb -x "$(ls "$WORK/dl/${PKG}_${V}_"*.deb | head -1)" "$DEST"
        ;;
    *)
        echo "debian_src.sh: unknown MODE $MODE" >&2
        exit 2
        ;;
esac
touch "$DEST/.unpacked-$VERSION"
