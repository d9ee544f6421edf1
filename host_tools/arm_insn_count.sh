#!/usr/bin/env bash
# Thumb instruction count of one Ed25519 verification (RFC 8032 TEST 3) on armv6m (Cortex-M0)
# and armv7m (Cortex-M3) code, plus the linked code/table sizes: the figures in
# firmware/metercrypto/README.md ("Why Ed25519").
#
# A bare binary of mc_core.c (-Os, -nostdlib: no libc, no libgcc) runs under qemu-arm user mode
# (the Thumb code executes on qemu's A-profile CPU), one instruction per translation block with
# exec tracing on: the trace lines are the executed instructions. Needs gcc-arm-none-eabi and
# qemu-user (apt). Takes about a minute.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MC="$ROOT/firmware/metercrypto"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/bench.c" <<'C'
#include "mc_core.h"
static const uint8_t pk[32] = {0xfc,0x51,0xcd,0x8e,0x62,0x18,0xa1,0xa3,0x8d,0xa4,0x7e,0xd0,0x02,0x30,0xf0,0x58,
    0x08,0x16,0xed,0x13,0xba,0x33,0x03,0xac,0x5d,0xeb,0x91,0x15,0x48,0x90,0x80,0x25};
static const uint8_t sig[64] = {0x62,0x91,0xd6,0x57,0xde,0xec,0x24,0x02,0x48,0x27,0xe6,0x9c,0x3a,0xbe,0x01,0xa3,
    0x0c,0xe5,0x48,0xa2,0x84,0x74,0x3a,0x44,0x5e,0x36,0x80,0xd7,0xdb,0x5a,0xc3,0xac,0x18,0xff,0x9b,0x53,0x8d,0x16,
    0xf2,0x90,0xae,0x67,0xf7,0x60,0x98,0x4d,0xc6,0x59,0x4a,0x7c,0x15,0xe9,0x71,0x6e,0xd2,0x8d,0xc0,0x27,0xbe,0xce,
    0xea,0x1e,0xc4,0x0a};
static const uint8_t msg[2] = {0xaf, 0x82};
void _start(void) __attribute__((noreturn));
void _start(void) {
    register int r0 __asm__("r0") = mc_ed25519_verify(pk, msg, 2, sig) == 0 ? 0 : 1;
    register int r7 __asm__("r7") = 1; // Linux exit(r0)
    __asm__ volatile("svc 0" : : "r"(r0), "r"(r7));
    for (;;) {
    }
}
C
for cpu in cortex-m0 cortex-m3; do
    elf="$T/ed_$cpu.elf"
    arm-none-eabi-gcc -std=c99 -Os -mthumb -mcpu=$cpu -nostdlib -ffreestanding -fno-tree-loop-distribute-patterns \
        -static -ffunction-sections -fdata-sections -Wl,--gc-sections -Wl,-e,_start -I"$MC" -o "$elf" \
        "$T/bench.c" "$MC/mc_core.c"
    qemu-arm "$elf" || { echo "$cpu: verification failed" >&2; exit 1; }
    n=$(qemu-arm -singlestep -d exec,nochain -D /dev/stdout "$elf" | grep -c '^Trace')
    sizes=$(arm-none-eabi-size -A "$elf" | awk '$1 == ".text" {t = $2} $1 == ".rodata" {r = $2} END {print t, r}')
    echo "$cpu: $n instructions per verify; .text ${sizes% *} B, .rodata ${sizes#* } B (incl. 98 B of test data)"
done
