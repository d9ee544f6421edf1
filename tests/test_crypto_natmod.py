"""The dynamic native module (.mpy) build of metercrypto.

- The full MicroPython test files (mpt_crypto.py, mpt_crypto_guarded.py, mpt_crypto_block64.py,
  mpt_crypto_sig.py) run against the x64 .mpy
  loaded into the 64-bit interpreter (as metercrypto_x64, through the mc_impl hook module).
- Cross builds for armv6m (RP2040), armv7m and rv32imc (ESP32-C3/C6) link and carry the right
  architecture in the .mpy header (their compilers come with `make setup`: missing is a failure;
  xtensawin only with an Espressif toolchain on PATH). The armv6m and armv7m modules also run the
  crypto tests on the emulated Cortex-M0 / M3 (tests/test_qemu_natmod.py).
"""
import os
import shutil
import subprocess

import pytest

from conftest import run_mp
from crypto_support import NATMOD_X64_DIR, ROOT, ensure_natmod_x64

MP_DIR = os.path.join(ROOT, "tests", "mp")


@pytest.mark.parametrize("module", ["mpt_crypto", "mpt_crypto_guarded", "mpt_crypto_block64", "mpt_crypto_sig"])
def test_mp_tests_against_natmod_x64(module, tmp_path):
    reason = ensure_natmod_x64()
    if reason:
        pytest.skip(reason)
    (tmp_path / "mc_impl.py").write_text("import metercrypto_x64 as mc\n")
    p = run_mp("unix", [os.path.join(MP_DIR, "_runner.py"), module], heap="8M",
               extra_path=[str(tmp_path), NATMOD_X64_DIR])
    lines = p.stdout.splitlines()
    assert "@@DONE" in lines, "runner did not finish (exit %s)\n%s\n%s" % (p.returncode, p.stdout[-2000:],
                                                                           p.stderr[-2000:])
    assert not any(l.startswith("@@IMPORTERROR") for l in lines), p.stdout
    fails = [l.replace("\\n", "\n") for l in lines if l.startswith("@@FAIL")]
    assert not fails, "\n".join(fails)
    assert any(l.startswith("@@PASS") for l in lines)


# .mpy header: b"M", version 6, then (native arch << 2) | sub-version (py/persistentcode.h).
ARCH_CODES = {"armv6m": 4, "armv7m": 5, "xtensawin": 10, "rv32imc": 11}
COMPILERS = {"armv6m": ["arm-none-eabi-gcc"], "armv7m": ["arm-none-eabi-gcc"],
             "rv32imc": ["riscv64-unknown-elf-gcc"], "xtensawin": ["xtensa-esp32-elf-gcc", "xtensa-esp-elf-gcc"]}


# `make setup` installs these cross compilers (host_tools/setup/apt_packages.sh): their modules are
# also loaded and tested on the emulated Cortex-M0/M3 (tests/test_qemu_natmod.py), so a missing
# compiler is a failure, not a skip. xtensawin needs ESP-IDF's toolchain, which Debian lacks.
REQUIRED = ("armv6m", "armv7m", "rv32imc")


@pytest.mark.parametrize("arch", list(ARCH_CODES))
def test_natmod_cross_build(arch):
    if not any(shutil.which(c) for c in COMPILERS[arch]):
        if arch in REQUIRED:
            pytest.fail("%s: no %s on PATH (run `make setup`)" % (arch, " / ".join(COMPILERS[arch])))
        pytest.skip("%s: no %s on PATH" % (arch, " / ".join(COMPILERS[arch])))
    p = subprocess.run(["bash", os.path.join(ROOT, "host_tools", "setup", "natmod.sh"), arch],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    skipped = [l for l in p.stdout.splitlines() if l.strip().startswith("skipped") and arch + ":" in l]
    if skipped:
        if arch in REQUIRED:
            pytest.fail(skipped[0].strip())
        pytest.skip(skipped[0].strip())
    mpy = os.path.join(ROOT, "build", "natmod", arch, "metercrypto.mpy")
    with open(mpy, "rb") as f:
        head = f.read(4)
    assert head[0:1] == b"M" and head[1] == 6, head
    assert head[2] >> 2 == ARCH_CODES[arch], head
    assert 4000 < os.path.getsize(mpy) < 32768
