#!/bin/sh
# Install the Debian packages the build needs, only if any is missing (idempotent).
set -e
PKGS="build-essential pkg-config libffi-dev libmbedtls-dev dpkg-dev gcc-multilib xz-utils valgrind"
# Cross compilers for the dynamic native modules (make natmod), and qemu-user for
# host_tools/arm_insn_count.sh; optional for make test.
[ "${WITH_CROSS:-0}" = 1 ] && PKGS="$PKGS gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-user"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing Debian packages:$missing"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
