"""Shared helpers for the metercrypto CPython tests (test_crypto_*.py). Holds no tests itself.

- ensure_natmod_x64(): build the x64 dynamic native module on demand (host_tools/setup/natmod.sh
  x64) and return a skip reason if it cannot be built.
- TARGETS: how to reach each implementation under test from CPython: the module built into the
  64-bit and 32-bit Unix interpreters, and the x64 .mpy loaded into the 64-bit interpreter under
  the name metercrypto_x64 (a built-in `metercrypto` would shadow a file of the same name).
"""
import glob
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATMOD_X64_DIR = os.path.join(ROOT, "build", "natmod", "x64", "test")
NATMOD_X64 = os.path.join(NATMOD_X64_DIR, "metercrypto_x64.mpy")

# name -> (interpreter key for conftest.run_mp, module to import, extra MICROPYPATH entries)
TARGETS = {
    "unix": ("unix", "metercrypto", ()),
    "unix32": ("unix32", "metercrypto", ()),
    "natmod-x64": ("unix", "metercrypto_x64", (NATMOD_X64_DIR,)),
}

_natmod_state = {}


def _sources_mtime():
    files = []
    for pat in ("*.c", "*.h", "*.mk"):
        files += glob.glob(os.path.join(ROOT, "firmware", "metercrypto", pat))
    files.append(os.path.join(ROOT, "host_tools", "setup", "natmod.sh"))
    return max(os.path.getmtime(f) for f in files if os.path.exists(f))


def ensure_natmod(arch, product=None):
    """Return None when the natmod of `arch` (build/natmod/<arch>/metercrypto.mpy, or `product`)
    is up to date (building it with host_tools/setup/natmod.sh if needed), else a human-readable
    reason why it cannot be built."""
    product = product or os.path.join(ROOT, "build", "natmod", arch, "metercrypto.mpy")
    if arch in _natmod_state:
        return _natmod_state[arch]
    reason = None
    if not (os.path.exists(product) and os.path.getmtime(product) >= _sources_mtime()):
        p = subprocess.run(["bash", os.path.join(ROOT, "host_tools", "setup", "natmod.sh"), arch],
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
        if p.returncode != 0 or not os.path.exists(product):
            reason = ("%s native module could not be built by host_tools/setup/natmod.sh %s "
                      "(exit %d):\n%s%s" % (arch, arch, p.returncode, p.stdout[-1500:], p.stderr[-1500:]))
    _natmod_state[arch] = reason
    return reason


def ensure_natmod_x64():
    """ensure_natmod for the x64 module under its test name (metercrypto_x64.mpy)."""
    return ensure_natmod("x64", NATMOD_X64)
