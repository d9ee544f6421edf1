"""Benchmarks for the metercrypto C module (run by `make bench` through host_tools/bench.py).

Prints:
 1. Cost per call for 16/64/256/4096 bytes of CBC decrypt, CTR, CMAC and GCM, ours against
    cryptolib (mbedTLS, built into the 64-bit Unix interpreter), as ours/cryptolib ratios. Both
    sides are timed with time.ticks_us in the same MicroPython process, interleaved, best of 7.
    Twice: with the system mbedTLS as is (it uses AES-NI on x86-64) and with AES-NI switched off
    by a tiny LD_PRELOAD shim (mbedTLS's portable table AES, as on an MCU).
    cryptolib has no CMAC: its comparable is CBC-MAC (cryptolib CBC encrypt with a zero IV, the
    last block being the MAC). It has no GCM either, and CTR only when the firmware enables
    MICROPY_PY_CRYPTOLIB_CTR (not in the Unix port): those rows show our time alone.
    One-shot columns include the key schedule on both sides (cryptolib.aes(...) per call); the
    cached column times cryptolib with one aes object reused, which our one-shot API cannot do.
    The x64 native .mpy is timed too (natmod/builtin ratio), when it is built.
 2. Instruction counts (valgrind --tool=callgrind) for one 64-byte CBC decrypt plus one CMAC
    (ours) against one 64-byte CBC decrypt plus one 64-byte CBC-MAC (cryptolib), each with its
    key setup: (a) per call from Python, by differencing a 200-iteration loop against the same
    loop with an empty body (interpreter start-up and loop overhead cancel out); (b) crypto core
    only: ours from a small C harness of mc_core.c built with the firmware's -Os, counted with
    --toggle-collect on the harness function; mbedTLS with --toggle-collect='mbedtls_*' inside
    the interpreter, with and without AES-NI.
 3. Heap bytes allocated per call (gc.mem_alloc delta, GC disabled): 0 for the _into variants,
    the result object otherwise, in both the 64-bit and 32-bit interpreters.
 4. Instruction counts (callgrind, per call from Python, loop minus empty loop) for the STS and
    firmware-update primitives: one DES and one MISTY1 block decrypt (key schedule included), one
    SHA-512 of 200 KB, one Ed25519 verification (RFC 8032 TEST 3), built-in and x64 .mpy.
 5. The native .mpy sizes per architecture found under build/natmod/.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP64 = os.path.join(ROOT, "build", "unix", "micropython")
MP32 = os.path.join(ROOT, "build", "unix32", "micropython")
NATMOD_DIR = os.path.join(ROOT, "build", "natmod")
NATMOD_X64_TEST = os.path.join(NATMOD_DIR, "x64", "test")
MC_DIR = os.path.join(ROOT, "firmware", "metercrypto")
SIZES = (16, 64, 256, 4096)

TIMING = r"""
import sys, time, json, gc
mc = __import__(sys.argv[1])
import cryptolib
SIZES = %s
k = bytes(range(16)); iv = bytes(range(16, 32)); z16 = bytes(16); iv12 = iv[:12]
try:
    cryptolib.aes(k, 6, iv)
    HAVE_CTR = True
except Exception:
    HAVE_CTR = False

def per_call(f):
    n = 8
    while True:
        t0 = time.ticks_us()
        for _ in range(n):
            f()
        dt = time.ticks_diff(time.ticks_us(), t0)
        if dt >= 20000 or n >= 1 << 20:
            return n
        n *= 2

def timeit(f, n):
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(n):
        f()
    return time.ticks_diff(time.ticks_us(), t0) / n

def bench(fns):
    ns = [per_call(f) if f else 0 for f in fns]
    best = [1e9] * len(fns)
    for rep in range(7):
        for i, f in enumerate(fns):
            if f:
                best[i] = min(best[i], timeit(f, ns[i]))
    return [b if fns[i] else None for i, b in enumerate(best)]

res = []
for n in SIZES:
    d = bytes((i * 7) & 255 for i in range(n))
    out = bytearray(n)
    tag = bytearray(16)
    mac = bytearray(16)
    dec_obj = cryptolib.aes(k, 2, iv)
    enc_obj = cryptolib.aes(k, 2, z16)
    res.append(("cbc_decrypt/%%d" %% n, bench([
        lambda: mc.cbc_decrypt(k, iv, d),
        lambda: cryptolib.aes(k, 2, iv).decrypt(d),
        lambda: mc.cbc_decrypt_into(k, iv, d, out),
        lambda: cryptolib.aes(k, 2, iv).decrypt(d, out),
        lambda: dec_obj.decrypt(d, out),
    ])))
    res.append(("ctr/%%d" %% n, bench([
        lambda: mc.ctr_crypt(k, iv, d),
        (lambda: cryptolib.aes(k, 6, iv).encrypt(d)) if HAVE_CTR else None,
        lambda: mc.ctr_crypt_into(k, iv, d, out),
        (lambda: cryptolib.aes(k, 6, iv).encrypt(d, out)) if HAVE_CTR else None,
        None,
    ])))
    res.append(("cmac/%%d" %% n, bench([
        lambda: mc.cmac(k, d),
        lambda: cryptolib.aes(k, 2, z16).encrypt(d)[-16:],
        lambda: mc.cmac_into(k, d, mac),
        lambda: cryptolib.aes(k, 2, z16).encrypt(d, out),
        lambda: enc_obj.encrypt(d, out),
    ])))
    res.append(("gcm_encrypt/%%d" %% n, bench([
        lambda: mc.gcm_encrypt(k, iv12, b"hdr", d),
        None,
        lambda: mc.gcm_encrypt_into(k, iv12, b"hdr", d, out, tag),
        None,
        None,
    ])))
print(json.dumps(res))
"""

ALLOC = r"""
import sys, gc
mc = __import__(sys.argv[1])
k = bytes(16); iv = bytes(16); d = bytes(64); out = bytearray(64); o16 = bytearray(16); o32 = bytearray(32)
tag = bytearray(16); enc = mc.encode_3of6(d); e96 = bytearray(96)
cases = [
    ("ecb_encrypt", lambda: mc.ecb_encrypt(k, d), lambda: mc.ecb_encrypt_into(k, d, out)),
    ("cbc_decrypt", lambda: mc.cbc_decrypt(k, iv, d), lambda: mc.cbc_decrypt_into(k, iv, d, out)),
    ("ctr_crypt", lambda: mc.ctr_crypt(k, iv, d), lambda: mc.ctr_crypt_into(k, iv, d, out)),
    ("cmac", lambda: mc.cmac(k, d), lambda: mc.cmac_into(k, d, o16)),
    ("gcm_encrypt", lambda: mc.gcm_encrypt(k, iv, b"", d), lambda: mc.gcm_encrypt_into(k, iv, b"", d, out, tag)),
    ("sha256", lambda: mc.sha256(d), lambda: mc.sha256_into(d, o32)),
    ("hmac_sha256", lambda: mc.hmac_sha256(k, d), lambda: mc.hmac_sha256_into(k, d, o32)),
    ("encode_3of6", lambda: mc.encode_3of6(d), lambda: mc.encode_3of6_into(d, e96)),
    ("decode_3of6", lambda: mc.decode_3of6(enc), lambda: mc.decode_3of6_into(enc, out)),
    ("crc16_arc", lambda: mc.crc16_arc(d), None),
    ("crc32", lambda: mc.crc32(d), None),
    ("compare_digest", lambda: mc.compare_digest(o16, tag), None),
]
res = []
for name, one, into in cases:
    row = []
    for f in (one, into):
        if f is None:
            row.append(None)
            continue
        f()
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for _ in range(10):
            f()
        b = gc.mem_alloc()
        gc.enable()
        row.append((b - a) // 10)
    res.append((name, row))
gc.collect()
gc.disable()
a = gc.mem_alloc()
for _ in range(10):
    pass
res.append(("(empty loop)", [(gc.mem_alloc() - a) // 10, None]))
gc.enable()
print(res)
"""

LOOP = r"""
import gc
gc.disable()
import sys
import %(mod)s as mc
import cryptolib
k = bytes(range(16)); iv = bytes(range(16, 32)); z16 = bytes(16)
d64 = bytes(64); out = bytearray(64); tmp = bytearray(64); mac = bytearray(16)
dec_obj = cryptolib.aes(k, 2, iv); enc_obj = cryptolib.aes(k, 2, z16)
def ours():  # _into: no allocation, key schedules computed per call
    mc.cbc_decrypt_into(k, iv, d64, out)
    mc.cmac_into(k, d64, mac)
def ours_oneshot():  # allocates the two results
    mc.cbc_decrypt(k, iv, d64)
    mc.cmac(k, d64)
def theirs():  # fresh aes objects (key schedule per call), results allocated
    cryptolib.aes(k, 2, iv).decrypt(d64)
    cryptolib.aes(k, 2, z16).encrypt(d64)
def theirs_cached():  # aes objects reused: no key schedule, no allocation (floor)
    dec_obj.decrypt(d64, out)
    enc_obj.encrypt(d64, tmp)
def nothing():
    pass
f = %(fn)s
for _ in range(%(n)d):
    f()
"""

PRIM_LOOP = r"""
import gc
gc.disable()
import %(mod)s as mc
h = bytes.fromhex
k8 = h("133457799bbcdff1"); k16 = h("00112233445566778899aabbccddeeff")
blk = h("85e813540f0ab405"); out = bytearray(64); big = bytes(200 * 1024)
pk = h("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")
sig = h("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a")
msg = h("af82")
def des():
    mc.des_ecb_decrypt_into(k8, blk, out)
def misty1():
    mc.misty1_ecb_decrypt_into(k16, blk, out)
def sha512():
    mc.sha512_into(big, out)
def ed25519():
    if not mc.ed25519_verify(pk, msg, sig):
        raise SystemExit("verify failed")
def nothing():
    pass
f = %(fn)s
for _ in range(%(n)d):
    f()
"""

HARNESS = r"""
#include "mc_core.h"
__attribute__((noinline)) void bench_op(const uint8_t *k, const uint8_t *iv, const uint8_t *d, uint8_t *out,
    uint8_t *mac) {
    mc_aes_t ctx;
    mc_aes_setkey_dec(&ctx, k, 16);
    mc_cbc_decrypt(&ctx, iv, d, out, 64);
    mc_wipe(&ctx, sizeof(ctx));
    mc_aes_setkey_enc(&ctx, k, 16);
    mc_cmac(&ctx, d, 64, mac);
    mc_wipe(&ctx, sizeof(ctx));
}
int main(void) {
    static uint8_t k[16], iv[16], d[64], out[64], mac[16];
    for (int i = 0; i < 100; i++) {
        bench_op(k, iv, d, out, mac);
    }
    return out[0] & 0;
}
"""


def mp_env(extra=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "firmware")] + list(extra))
    return env


def run_script(interp, src, args=(), extra=(), heap="32M", timeout=900, env_extra=None):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(src)
        path = f.name
    try:
        env = mp_env(extra)
        env.update(env_extra or {})
        p = subprocess.run([interp, "-X", "heapsize=" + heap, path] + list(args), capture_output=True, text=True,
                           env=env, timeout=timeout, cwd=ROOT)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        raise RuntimeError("MicroPython script failed (%s):\n%s%s" % (interp, p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout


def fmt(v, unit=""):
    if v is None:
        return "-"
    return ("%.2f" % v if v < 100 else "%.0f" % v) + unit


def natmod_x64():
    path = os.path.join(NATMOD_X64_TEST, "metercrypto_x64.mpy")
    if not os.path.exists(path):
        p = subprocess.run(["bash", os.path.join(ROOT, "host_tools", "setup", "natmod.sh"), "x64"],
                           capture_output=True, text=True, cwd=ROOT)
        if not os.path.exists(path):
            print("  (x64 natmod not built: %s)" % (p.stdout + p.stderr).strip()[-300:])
            return None
    return path


NOAESNI_SRC = "int mbedtls_aesni_has_support(unsigned int what) { (void)what; return 0; }\n"


def noaesni_shim():
    """A tiny LD_PRELOAD library that makes the system mbedTLS take its portable (T-table) AES path
    instead of AES-NI: the fair comparison for MCUs, which have no AES-NI. None if gcc is missing."""
    out_dir = os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    so = os.path.join(out_dir, "noaesni.so")
    src = os.path.join(out_dir, "noaesni.c")
    with open(src, "w") as f:
        f.write(NOAESNI_SRC)
    p = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", so, src], capture_output=True, text=True)
    return so if p.returncode == 0 else None


def timing_run(module, extra=(), preload=None):
    env_extra = {"LD_PRELOAD": preload} if preload else {}
    out = run_script(MP64, TIMING % (SIZES,), [module], extra=extra, env_extra=env_extra)
    return dict((k, v) for k, v in json.loads(out.strip().splitlines()[-1]))


def section_timing():
    print("1. Cost per call, 64-bit Unix interpreter (microseconds, best of 7; ratio = ours / cryptolib,")
    print("   both measured in the same MicroPython process)")
    try:
        load = open("/proc/loadavg").read().split()[0]
    except OSError:
        load = "?"
    hw = timing_run("metercrypto")
    shim = noaesni_shim()
    sw = timing_run("metercrypto", preload=shim) if shim else None
    nat = timing_run("metercrypto_x64", extra=[NATMOD_X64_TEST]) if natmod_x64() else None
    hdr = "%-17s %7s %8s %6s | %7s %8s %6s | %9s %10s %6s | %9s" % (
        "op/bytes", "ours", "clib-ni", "ratio", "ours", "clib-sw", "ratio", "ours_into", "clib-sw-c", "ratio",
        "natmod/bi")
    print(hdr)
    print("-" * len(hdr))
    order = {"cbc_decrypt": 0, "ctr": 1, "cmac": 2, "gcm_encrypt": 3}
    for key in sorted(hw, key=lambda k: (order[k.split("/")[0]], int(k.split("/")[1]))):
        o, c = hw[key][0], hw[key][1]
        so, sc, soi, scc = (sw[key][0], sw[key][1], sw[key][2], sw[key][4]) if sw else (None,) * 4
        rn = nat[key][2] / hw[key][2] if nat else None
        print("%-17s %7s %8s %6s | %7s %8s %6s | %9s %10s %6s | %9s" % (
            key, fmt(o), fmt(c), fmt(o / c if c else None), fmt(so), fmt(sc), fmt(so / sc if sc else None),
            fmt(soi), fmt(scc), fmt(soi / scc if scc else None), fmt(rn)))
    print("""  clib-ni: cryptolib as built (system mbedTLS 2.28, AES-NI). clib-sw: the same with AES-NI switched off
  (LD_PRELOAD shim over mbedtls_aesni_has_support), i.e. mbedTLS's portable table AES as an MCU runs it.
  One-shot columns include the key schedule on both sides: metercrypto.cbc_decrypt(key, iv, data) vs
  cryptolib.aes(key, 2, iv).decrypt(data). clib-sw-c: one cached aes object, no key schedule and no
  allocation (a floor our key-per-call API cannot reach); compared with our _into call.
  cmac: cryptolib's column is CBC-MAC (CBC encrypt, zero IV; no subkeys). '-': no such mode in cryptolib
  (GCM; CTR unless MICROPY_PY_CRYPTOLIB_CTR). natmod/bi: x64 .mpy _into time / built-in _into time.
  Not shown: cryptolib.aes(...).decrypt(data, out) - slow for an allocator reason, not mbedTLS: it
  allocates only multi-block objects, and gc_alloc advances its first-free hint only after single-block
  allocations, so each call rescans the used heap.
  Wall-clock figures on a shared machine are noisy (load average %s); section 2 is deterministic.""" % load)
    return hw, sw


def callgrind_total(cmd, env, toggle=None):
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "cg.out")
        args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        if toggle:
            args.append("--toggle-collect=" + toggle)
        p = subprocess.run(args + cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
        m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
        if not m:
            raise RuntimeError("callgrind failed: " + p.stderr[-1500:])
        return int(m.group(1))


def section_callgrind():
    print("\n2. Instructions (callgrind): one 64-byte CBC decrypt + one CMAC, AES-128, key setup included")
    if shutil.which("valgrind") is None:
        print("  skipped: valgrind not installed")
        return None
    n = 200
    results = {}
    with tempfile.TemporaryDirectory() as td:
        shim = noaesni_shim()

        def loop_cost(fn, mod="metercrypto", extra=(), preload=None, toggle=None):
            path = os.path.join(td, "loop_%s_%s.py" % (fn, mod))
            with open(path, "w") as f:
                f.write(LOOP % {"mod": mod, "fn": fn, "n": n})
            env = mp_env(extra)
            if preload:
                env["LD_PRELOAD"] = preload
            return callgrind_total([MP64, "-X", "heapsize=64M", path], env, toggle)

        base = loop_cost("nothing")
        for fn in ("ours", "ours_oneshot", "theirs", "theirs_cached"):
            results[fn] = (loop_cost(fn) - base) / n
        if natmod_x64():
            nbase = loop_cost("nothing", "metercrypto_x64", [NATMOD_X64_TEST])
            results["natmod"] = (loop_cost("ours", "metercrypto_x64", [NATMOD_X64_TEST]) - nbase) / n
        results["clib_core"] = loop_cost("theirs", toggle="mbedtls_*") / n
        if shim:
            results["theirs_sw"] = (loop_cost("theirs", preload=shim) - loop_cost("nothing", preload=shim)) / n
            results["clib_core_sw"] = loop_cost("theirs", preload=shim, toggle="mbedtls_*") / n
        # Our core alone: C harness with the firmware's optimisation level.
        src = os.path.join(td, "harness.c")
        with open(src, "w") as f:
            f.write(HARNESS)
        exe = os.path.join(td, "harness")
        p = subprocess.run(["gcc", "-Os", "-std=c99", "-I" + MC_DIR, src, os.path.join(MC_DIR, "mc_core.c"), "-o", exe],
                           capture_output=True, text=True)
        if p.returncode == 0:
            results["ours_core"] = callgrind_total([exe], dict(os.environ), "bench_op") / 100
    rows = [
        ("ours, _into (built-in module)", results["ours"]),
        ("ours, _into (x64 .mpy)", results.get("natmod")),
        ("ours, one-shot (results allocated)", results["ours_oneshot"]),
        ("cryptolib, fresh aes objects, results allocated", results["theirs"]),
        ("  same, mbedTLS portable AES (AES-NI off)", results.get("theirs_sw")),
        ("cryptolib, cached aes objects (no key setup)", results["theirs_cached"]),
    ]
    print("  per call from Python (loop of %d minus empty loop):" % n)
    for label, v in rows:
        if v is not None:
            print("    %-50s %10.0f" % (label, v))
    print("    %-50s %10.2f" % ("ratio ours _into / cryptolib fresh", results["ours"] / results["theirs"]))
    print("    %-50s %10.2f" % ("ratio ours one-shot / cryptolib fresh", results["ours_oneshot"] / results["theirs"]))
    if "theirs_sw" in results:
        print("    %-50s %10.2f" % ("ratio ours one-shot / cryptolib fresh, AES-NI off",
                                    results["ours_oneshot"] / results["theirs_sw"]))
    print("  crypto core only:")
    if "ours_core" in results:
        print("    %-50s %10.0f" % ("mc_core (C harness, gcc -Os, incl. key wipes)", results["ours_core"]))
    print("    %-50s %10.0f" % ("mbedTLS, AES-NI (--toggle-collect=mbedtls_*)", results["clib_core"]))
    if "clib_core_sw" in results:
        print("    %-50s %10.0f" % ("mbedTLS, portable AES (AES-NI off)", results["clib_core_sw"]))
    if "ours_core" in results:
        print("    %-50s %10.2f" % ("ratio mc_core / mbedTLS AES-NI", results["ours_core"] / results["clib_core"]))
        if "clib_core_sw" in results:
            print("    %-50s %10.2f" % ("ratio mc_core / mbedTLS portable",
                                        results["ours_core"] / results["clib_core_sw"]))
    print("  (cryptolib's comparable for CMAC is a 64-byte CBC-MAC - CBC encryption with a zero IV; our CMAC")
    print("   does one block more, the subkey block E(K, 0))")
    return results


def section_primitives():
    print("\n4. Instructions (callgrind) per call from Python: DES / MISTY1 block decrypt (key schedule")
    print("   included), SHA-512 of 200 KB, Ed25519 verify (RFC 8032 TEST 3)")
    if shutil.which("valgrind") is None:
        print("  skipped: valgrind not installed")
        return None
    loops = {"des": 200, "misty1": 200, "sha512": 2, "ed25519": 4}
    targets = [("built-in", "metercrypto", ())]
    if natmod_x64():
        targets.append(("x64 .mpy", "metercrypto_x64", (NATMOD_X64_TEST,)))
    results = {}
    with tempfile.TemporaryDirectory() as td:
        for label, mod, extra in targets:
            def cost(fn, n):
                path = os.path.join(td, "prim_%s_%s_%d.py" % (fn, mod, n))
                with open(path, "w") as f:
                    f.write(PRIM_LOOP % {"mod": mod, "fn": fn, "n": n})
                return callgrind_total([MP64, "-X", "heapsize=8M", path], mp_env(extra))
            for fn, n in loops.items():
                results[(label, fn)] = (cost(fn, n) - cost("nothing", n)) / n
    print("  %-28s %14s %14s" % ("operation", "built-in", "x64 .mpy"))
    for fn, what in (("des", "DES block decrypt"), ("misty1", "MISTY1 block decrypt"),
                     ("sha512", "SHA-512, 200 KB"), ("ed25519", "Ed25519 verify")):
        row = [results.get((t[0], fn)) for t in (("built-in",), ("x64 .mpy",))]
        print("  %-28s %14s %14s" % (what, *["-" if v is None else "%.0f" % v for v in row]))
    return results


def section_alloc():
    print("\n3. Heap bytes allocated per call (64-byte input; gc.mem_alloc delta with the GC disabled)")
    rows = {}
    for name, interp in (("64-bit", MP64), ("32-bit", MP32)):
        if os.path.exists(interp):
            out = run_script(interp, ALLOC, ["metercrypto"], heap="4M").strip().splitlines()[-1]
            rows[name] = dict(eval(out, {"None": None}))  # list of (name, [one-shot, into])
    print("  %-16s %14s %14s %14s %14s" % ("function", "one-shot 64b", "_into 64b", "one-shot 32b", "_into 32b"))
    names = list(next(iter(rows.values())))
    for n in names:
        cols = []
        for w in ("64-bit", "32-bit"):
            r = rows.get(w, {}).get(n, [None, None])
            cols += ["-" if x is None else str(x) for x in r]
        print("  %-16s %14s %14s %14s %14s" % ((n,) + tuple(cols)))
    print("  one-shot = the result: a bytes object (4-word header + data rounded up to 4-word GC blocks);"
          " gcm_encrypt:\n  tuple + 2 bytes; crc32 on 32-bit: a long int when the value is >= 2**30.")
    return rows


def section_sizes():
    print("\n5. Native module (.mpy) sizes")
    found = False
    for arch in ("x64", "armv6m", "armv7m", "rv32imc", "xtensawin"):
        p = os.path.join(NATMOD_DIR, arch, "metercrypto.mpy")
        if os.path.exists(p):
            found = True
            print("  %-10s %6d bytes  build/natmod/%s/metercrypto.mpy" % (arch, os.path.getsize(p), arch))
        elif arch == "xtensawin":
            print("  %-10s %6s        (not built: needs xtensa-esp32-elf-gcc / xtensa-esp-elf-gcc)" % (arch, "-"))
        else:
            print("  %-10s %6s        (not built; `make natmod`)" % (arch, "-"))
    return found


def main():
    if not os.path.exists(MP64):
        print("bench_crypto: build/unix/micropython missing (run `make interpreters`)")
        return
    section_timing()
    section_callgrind()
    section_alloc()
    section_primitives()
    section_sizes()


if __name__ == "__main__":
    sys.exit(main())
