"""Memory safety of metercrypto under valgrind memcheck (64-bit Unix interpreter).

What runs under `valgrind --tool=memcheck --error-exitcode=99`:
  - tests/mp/mpt_crypto.py with MC_TEST_QUICK=1 (all known-answer and bad-input tests, minus the
    million-a SHA-256 vector and the two gc.mem_alloc tests, which need the GC);
  - tests/mp/mpt_crypto_block64.py and mpt_crypto_sig.py (DES, MISTY1, SHA-512, Ed25519) likewise,
    minus their gc.mem_alloc tests;
  - tests/mp/mpt_crypto_guarded.py: every input and output in its own exact-size malloc() block
    (outside the GC heap), so a one-byte over-read or over-write by the C code is an error;
  - the same guarded exerciser against the x64 native .mpy.

GC noise: MicroPython's collector scans the C stack and registers conservatively and reads
uninitialised stack words by design, which memcheck reports as "conditional jump depends on
uninitialised value" inside gc_collect_root (the interpreter binary is stripped, so no narrow
suppression by function name is possible). Instead of --undef-value-errors=no, which would also
hide real uses of uninitialised memory in our C code, the runner disables the GC and gives the
heap 64 MB, so no collection ever runs. Undefined-value checking therefore stays fully on, and
invalid reads/writes are reported as usual.

The last test proves the set-up can fail: a copy of the module with an injected one-byte
over-read (built out of tree under the pytest tmp dir) must make valgrind exit with 99.
Total run time is a few seconds (valgrind makes these runs ~30x slower than native).
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import INTERPRETERS, mp_env
from crypto_support import NATMOD_X64_DIR, ROOT, ensure_natmod_x64

VALGRIND = shutil.which("valgrind")
pytestmark = pytest.mark.skipif(VALGRIND is None, reason="valgrind not installed (apt-get install valgrind)")

RUNNER = r"""
import gc
gc.disable()  # no collection: the conservative stack scan is the only source of memcheck noise
import sys
m = __import__(sys.argv[1])
skip = sys.argv[2].split(",") if len(sys.argv) > 2 else []
for name in sorted(dir(m)):
    if name.startswith("test_") and name not in skip:
        try:
            getattr(m, name)()
            print("@@PASS", name)
        except Exception as e:
            if type(e).__name__ == "SkipTest":
                print("@@SKIP", name, e)
            else:
                print("@@FAIL", name, repr(e))
print("@@DONE")
"""

GC_TESTS = "test_into_zero_allocation,test_oneshot_allocates_only_result"


def valgrind_run(tmp_path, module, skip="", extra_path=(), impl=None):
    runner = tmp_path / "vg_runner.py"
    runner.write_text(RUNNER)
    paths = list(extra_path)
    if impl:
        shim = tmp_path / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "mc_impl.py").write_text("import %s as mc\n" % impl)
        paths.insert(0, str(shim))
    env = mp_env(paths)
    env["MC_TEST_QUICK"] = "1"
    cmd = [VALGRIND, "--tool=memcheck", "--error-exitcode=99", "-q",
           INTERPRETERS["unix"], "-X", "heapsize=64M", str(runner), module]
    if skip:
        cmd.append(skip)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


def check_clean(p):
    fails = [l for l in p.stdout.splitlines() if l.startswith("@@FAIL")]
    assert "@@DONE" in p.stdout, "runner did not finish (exit %s)\n%s\n%s" % (p.returncode, p.stdout[-2000:],
                                                                              p.stderr[-4000:])
    assert not fails, "\n".join(fails)
    assert p.returncode == 0, "valgrind reported errors (exit %s):\n%s" % (p.returncode, p.stderr[-6000:])
    assert not re.search(r"Invalid (read|write)|uninitialised|Mismatched free|Invalid free", p.stderr), p.stderr
    passed = [l for l in p.stdout.splitlines() if l.startswith("@@PASS")]
    assert passed
    return passed


def test_memcheck_known_answers(tmp_path):
    passed = check_clean(valgrind_run(tmp_path, "mpt_crypto", GC_TESTS))
    assert len(passed) >= 25


@pytest.mark.parametrize("module", ["mpt_crypto_block64", "mpt_crypto_sig"])
def test_memcheck_known_answers_new_primitives(module, tmp_path):
    # DES, MISTY1, SHA-512 and Ed25519 (every RFC 8032 vector, bad lengths, S >= L).
    passed = check_clean(valgrind_run(tmp_path, module, "test_into_zero_allocation,test_zero_allocation"))
    assert len(passed) >= 6


def test_memcheck_guarded_buffers_builtin(tmp_path):
    passed = check_clean(valgrind_run(tmp_path, "mpt_crypto_guarded"))
    assert len(passed) == 4


def test_memcheck_guarded_buffers_natmod_x64(tmp_path):
    reason = ensure_natmod_x64()
    if reason:
        pytest.skip(reason)
    passed = check_clean(valgrind_run(tmp_path, "mpt_crypto_guarded", extra_path=[NATMOD_X64_DIR],
                                      impl="metercrypto_x64"))
    assert len(passed) == 4


def test_memcheck_catches_injected_overread(tmp_path):
    """Sanity: with a one-byte over-read injected into crc32, the guarded run must fail."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found")
    src = tmp_path / "src"
    src.mkdir()
    mc_dir = os.path.join(ROOT, "firmware", "metercrypto")
    for f in os.listdir(mc_dir):
        if f.endswith((".c", ".h", ".mk")):
            shutil.copy(os.path.join(mc_dir, f), src / f)
    core = (src / "mc_core.c").read_text()
    anchor = "uint32_t mc_crc32(const uint8_t *p, size_t n, uint32_t crc) {\n"
    assert anchor in core, "update this test: mc_crc32's first line changed"
    core = core.replace(anchor, anchor + "    if (n) { volatile uint8_t x = p[n]; (void)x; } // injected\n")
    (src / "mc_core.c").write_text(core)
    bld = tmp_path / "build"
    bld.mkdir()
    (bld / "Makefile").write_text("MC_DIR := %s\nMPY_DIR := %s\nARCH := x64\ninclude $(MC_DIR)/natmod.mk\n"
                                  % (src, os.path.join(ROOT, "build", "mpsrc", "micropython")))
    py = os.path.join(ROOT, ".venv", "bin", "python")
    p = subprocess.run(["make", "-C", str(bld), "PYTHON=" + py], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip("could not build the fault-injected natmod: " + p.stdout[-800:] + p.stderr[-800:])
    mod = tmp_path / "mod"
    mod.mkdir()
    shutil.copy(bld / "metercrypto.mpy", mod / "metercrypto_x64.mpy")
    p = valgrind_run(tmp_path, "mpt_crypto_guarded", extra_path=[str(mod)], impl="metercrypto_x64")
    assert "@@DONE" in p.stdout
    assert p.returncode == 99, "valgrind missed the injected over-read:\n" + p.stderr[-3000:]
    assert "Invalid read of size 1" in p.stderr
