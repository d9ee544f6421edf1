"""Benchmark of STS token decoding on the meter (firmware/meter/cores/sts), per algorithm.

    .venv/bin/python -m host_tools.bench_sts [--tokens N] [--no-callgrind]

Tokens are vended in CPython (host_tools/sts), each with its own TID, and entered into the
firmware's Decoder in the 32-bit Unix MicroPython (the MCU proxy). Prints, per algorithm (EA07
always; EA09 / EA11 when the metercrypto build has des_ecb_decrypt / misty1_ecb_decrypt):
  * instructions per token (callgrind Ir of N tokens minus the same run with 0 tokens, / N) for
    the whole Decoder.enter() (digits -> decrypt -> CRC -> TID memory -> actions; accepted), for
    the decode pipeline alone (Token.decode), and for the block decryption alone;
  * heap bytes allocated per enter() (gc.mem_alloc, GC off), 64- and 32-bit interpreters;
  * for comparison, the instructions of the same STA decryption in C (a tiny harness of the
    folded-table algorithm built with gcc -Os, counted with callgrind --toggle-collect): the
    estimate for moving STA into metercrypto.
`make bench` (host_tools/bench.py) calls main() of every bench_*.py.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from host_tools import benchutil
from host_tools.benchutil import INTERPRETERS, ROOT
from host_tools.sts import tokens

KEY8 = bytes.fromhex("e653341f9d5bf36f")
KEY16 = bytes.fromhex("00112233445566778899aabbccddeeff")
NATIVE = {9: "des_ecb_decrypt", 11: "misty1_ecb_decrypt"}

SCRIPT = r"""
import sys, json, gc
from meter.cores.sts.decoder import Decoder, Config
from meter.cores.sts.keyrec import KeyRecord
from meter.cores.sts import cipher
with open(sys.argv[1]) as f:
    job = json.load(f)
mode = sys.argv[2]
n = int(sys.argv[3])
key = KeyRecord(job["ea"], bytes.fromhex(job["key"]), 2, 1, 1)
toks = [t.encode() for t in job["tokens"][:n]]
d = Decoder(Config(tid_capacity=50))
blk = bytearray(8)
if mode == "enter":
    for t in toks:
        d.enter(t, 0, key)
elif mode == "pipeline":
    for t in toks:
        d.tok.decode(t, key)
elif mode == "cipher":
    k = key.key()
    for t in toks:
        cipher.decrypt_into(job["ea"], k, blk)
elif mode == "alloc":
    d.enter(toks[0], 0, key)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for t in toks[1:]:
        d.enter(t, 0, key)
    print("ALLOC", (gc.mem_alloc() - a) // (len(toks) - 1))
else:  # "empty": the loop alone
    for t in toks:
        pass
"""

# the meter's token service (services/tokens.py): heap of its modules (imported from source; frozen
# bytecode keeps them in ROM) and of one instance with the default 50-TID memory
SERVICE = r"""
import gc
gc.collect()
a0 = gc.mem_alloc()
from meter.services import tokens
from meter.common.events import EventLog
gc.collect()
a1 = gc.mem_alloc()
class Clock:
    def now(self):
        return 0
ev = EventLog(4)
key = tokens.key_record({"ea": 7, "kt": 2, "krn": 1, "ti": 1, "sgc": 123456, "base": 1993},
                        bytes(8))
gc.collect()
a2 = gc.mem_alloc()
ts = tokens.TokenService({}, key, None, None, ev, Clock(), lambda: None)
ts.start()
gc.collect()
print("SERVICE", a1 - a0, gc.mem_alloc() - a2, ts.state_size)
"""

C_HARNESS = r"""
#include <stdint.h>
static const uint8_t S1[16] = {%(s1)s}, S2[16] = {%(s2)s}, P[64] = {%(p)s};
static uint64_t T[16][2][16];
static uint8_t I1[16], I2[16];
static void setup(void) {
    uint8_t pd[64];
    for (int i = 0; i < 64; i++) pd[P[i]] = (uint8_t)i;
    for (int i = 0; i < 16; i++) { I1[S1[i]] = (uint8_t)i; I2[S2[i]] = (uint8_t)i; }
    for (int n = 0; n < 16; n++) for (int s = 0; s < 2; s++) for (int v = 0; v < 16; v++) {
        uint8_t x = s ? I1[v] : I2[v]; uint64_t m = 0;
        for (int b = 0; b < 4; b++) if (x >> b & 1) m |= (uint64_t)1 << pd[4 * n + b];
        T[n][s][v] = m;
    }
}
__attribute__((noinline)) uint64_t sta_decrypt(uint64_t k, uint64_t c) {
    uint64_t x = 0;
    for (int n = 0; n < 16; n++) {           /* pre-substitution: the first folded step is P */
        unsigned s = (unsigned)(k >> ((4 * n + 63) & 63)) & 1;
        x |= (uint64_t)(s ? S1 : S2)[(c >> 4 * n) & 15] << 4 * n;
    }
    for (int j = 0; j < 16; j++) {
        uint64_t y = 0;
        for (int n = 0; n < 16; n++)
            y |= T[n][(k >> ((4 * n + j + 63) & 63)) & 1][(x >> 4 * n) & 15];
        x = y;
    }
    uint64_t out = 0;
    for (int n = 0; n < 16; n++) {
        unsigned s = (unsigned)(k >> ((4 * n + 15) & 63)) & 1;
        out |= (uint64_t)(s ? I1 : I2)[(x >> 4 * n) & 15] << 4 * n;
    }
    return out;
}
int main(void) {
    setup();
    volatile uint64_t acc = 0;
    for (int i = 0; i < 100; i++) acc ^= sta_decrypt(0xe653341f9d5bf36full, acc + i);
    return (int)(acc & 0);
}
"""


def vend_job(ea, n):
    key = KEY16 if ea == 11 else KEY8
    v = tokens.Vendor(key, ea=ea, base_year=2014)
    toks = [v.credit(10 + i, tid=1000000 + 7 * i, rnd=i & 15).digits for i in range(n)]
    return {"ea": ea, "key": key.hex(), "tokens": toks}


def run(interp, job_path, mode, n, wrap=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = os.path.join(ROOT, "firmware")
    cmd = list(wrap) + [INTERPRETERS[interp], "-X", "heapsize=4M", "-c", SCRIPT, job_path, mode, str(n)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError("%s %s failed: %s" % (interp, mode, p.stderr[-2000:]))
    return p


def per_token_ir(job_path, mode, n):
    base = benchutil.callgrind_ir(lambda wrap: run("unix32", job_path, mode, 0, wrap))
    full = benchutil.callgrind_ir(lambda wrap: run("unix32", job_path, mode, n, wrap))
    return (full - base) / n


def has_native(ea):
    if ea == 7:
        return True
    p = subprocess.run([INTERPRETERS["unix32"], "-c", "import metercrypto; print(hasattr(metercrypto, %r))"
                        % NATIVE[ea]], capture_output=True, text=True)
    return p.stdout.strip() == "True"


def c_sta_ir():
    """Instructions per STA block decryption in C (gcc -Os), or None without gcc/valgrind."""
    from host_tools.sts import sta
    if not shutil.which("gcc"):
        return None
    fmt = lambda t: ", ".join(str(v) for v in t)  # noqa: E731
    src = C_HARNESS % dict(s1=fmt(sta.SUBSTITUTION_1), s2=fmt(sta.SUBSTITUTION_2), p=fmt(sta.PERMUTATION))
    with tempfile.TemporaryDirectory() as d:
        c, exe, out = os.path.join(d, "sta.c"), os.path.join(d, "sta"), os.path.join(d, "cg.out")
        with open(c, "w") as f:
            f.write(src)
        subprocess.run(["gcc", "-Os", "-o", exe, c], check=True)
        p = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=sta_decrypt",
                            "--callgrind-out-file=" + out, exe], capture_output=True, text=True)
        import re
        m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
        return int(m.group(1)) / 100 if m else None


def main(argv=None):
    ap = argparse.ArgumentParser(description="STS token decode cost")
    ap.add_argument("--tokens", type=int, default=60)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args([] if argv is None else argv)
    print("sts: token decode on the meter (Decoder.enter, accepted credit tokens)")
    if not os.path.exists(INTERPRETERS["unix32"]):
        print("  unix32 interpreter not built (make interpreters)")
        return 0
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    for interp in ("unix", "unix32"):
        p = subprocess.run([INTERPRETERS[interp], "-X", "heapsize=4M", "-c", SERVICE], capture_output=True,
                           text=True, cwd=ROOT, env=env, timeout=300)
        if p.returncode == 0:
            mods, inst, sect = p.stdout.split()[-3:]
            print("  token service %-7s modules from source %s bytes, instance (50 TIDs) %s bytes, "
                  "journal section %s bytes" % (interp, mods, inst, sect))
        else:
            print("  token service %s: failed: %s" % (interp, p.stderr[-300:]))
    for ea in (7, 9, 11):
        if not has_native(ea):
            print("  EA%02d: skipped, metercrypto has no %s in this build" % (ea, NATIVE[ea]))
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(vend_job(ea, a.tokens), f)
            path = f.name
        try:
            for interp in ("unix", "unix32"):
                out = run(interp, path, "alloc", a.tokens).stdout
                print("  EA%02d %-7s heap per enter(): %s bytes" % (ea, interp, out.split()[-1]))
            if a.no_callgrind or not shutil.which("valgrind"):
                continue
            loop = per_token_ir(path, "empty", a.tokens)
            for mode, what in (("enter", "Decoder.enter (accept)"), ("pipeline", "Token.decode"),
                               ("cipher", "block decryption")):
                ir = per_token_ir(path, mode, a.tokens) - loop
                print("  EA%02d unix32  %-24s %9.0f instructions/token" % (ea, what, ir))
        finally:
            os.unlink(path)
    if not a.no_callgrind and shutil.which("valgrind"):
        c = c_sta_ir()
        if c:
            print("  EA07 in C (gcc -Os, folded tables)  %9.0f instructions/block (estimate for metercrypto)" % c)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
