#!/bin/sh
# Install the Debian packages the build needs, only if any is missing (idempotent).
set -e
PKGS="build-essential pkg-config libffi-dev libmbedtls-dev dpkg-dev gcc-multilib xz-utils valgrind"
# The MCU side, part of `make test` since the emulated Cortex-M runs (tests/test_qemu_*.py):
# ARM and RISC-V cross compilers (the metercrypto natmods, the qemu images), qemu-system-arm (the
# emulated MPS2-AN385 / micro:bit boards), qemu-user (host_tools/arm_insn_count.sh), cmake and
# the C++ runtime (the pico-sdk build of the RP2040 image, `make images`).
PKGS="$PKGS gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib cmake \
 gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-user qemu-system-arm"
# The web console's browser test (tests/test_console_browser.py): headless Chromium, driven by
# Playwright from the venv.
PKGS="$PKGS chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing Debian packages:$missing"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
