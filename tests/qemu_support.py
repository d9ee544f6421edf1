"""The MicroPython test files that also run on the emulated Cortex-M boards, and how they run there.
Holds no tests itself (tests/test_qemu_*.py do).

QEMU_FILES is the one list: a tests/mp file named here runs on the emulated boards through its
REPL (host_tools/qemu.py), each test function a pytest item `test_mp[<target>-<file>-<test>]`.
Add a new core's test file here when it lands. Targets:

    m3         MPS2-AN385, Cortex-M3, firmware frozen, metercrypto compiled in, FAT RAM disk at /
    m0         micro:bit, Cortex-M0, firmware frozen, metercrypto compiled in, no writable filesystem
    m3-natmod  Cortex-M3 image without metercrypto: the armv7m natmod .mpy (make natmod)
    m0-natmod  the M0 image: the armv6m natmod .mpy, imported as metercrypto_armv6m (the compiled-in
               module would shadow a file of the same name; mc_impl.py binds it, as for x64)

Every board has the port's stock 140 KB heap (143,360 B), as an ESP32 without PSRAM. A test that
needs more (fakes that keep whole runs in lists, 256 KB flash images) is listed in NOT_ON_MCU
with the reason, per target; it is reported as skipped there, never hidden.
"""
import os

from conftest import parse_runner_output
from host_tools.qemu import DeviceError, QemuBoard, QemuError, device_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP_DIR = os.path.join(ROOT, "tests", "mp")

CORE = ("m3", "m0")
CRYPTO = ("m3", "m0", "m3-natmod", "m0-natmod")

QEMU_FILES = {
    # crypto known answers (compiled in and as natmods)
    "mpt_crypto": CRYPTO,
    "mpt_crypto_block64": CRYPTO,
    "mpt_crypto_sig": CRYPTO,
    # codecs and cores
    "mpt_p1": CORE,               # DSMR / e-MUCS / Smarty telegram builder
    "mpt_optical": CORE,          # IEC 62056-21 session
    "mpt_tariff": CORE,           # tariff calendar and engine
    "mpt_tariff_alloc": CORE,
    "mpt_metrology": CORE,        # exact energy arithmetic
    "mpt_clock": CORE,            # meter clock, time zone, DST
    "mpt_clock_tariff": CORE,
    "mpt_prepay": CORE,           # prepayment account core
    "mpt_supply": CORE,           # disconnect control and limiter cores
    "mpt_quality": CORE,
    # services and drivers over fakes
    "mpt_p1_service": CORE,
    "mpt_optical_service": CORE,
    "mpt_tariff_service": ("m3",),  # calendar files: needs the writable filesystem
    "mpt_storage": CORE,
    "mpt_afe_ade7953": CORE,
    "mpt_afe_bl0942": CORE,
    "mpt_afe_atm90e32": CORE,
    "mpt_boards": ("m3",),        # rp2040 / esp32 board files over a fake `machine` (/meter.dat)
    "mpt_smoke": CORE,
}

_HEAP = "needs more than the 140 KB heap of the board: "
_NOFS = "needs a writable filesystem (the M0 image has none)"
NOT_ON_MCU = {
    ("mpt_metrology", "test_exact_bl0942_like_constant_no_reactive"): (CORE, _HEAP + "random-run fakes keep every tick"),
    ("mpt_metrology", "test_exact_single_phase_fractional_constant"): (CORE, _HEAP + "random-run fakes keep every tick"),
    ("mpt_metrology", "test_exact_three_phase_reactive_integer_constant"): (CORE, _HEAP + "random-run fakes keep every tick"),
    ("mpt_metrology", "test_exact_two_phase"): (CORE, _HEAP + "random-run fakes keep every tick"),
    ("mpt_afe_ade7953", "test_free_running_accumulator_wraps_24_bit"): (CORE, _HEAP + "the fake chip logs every transfer"),
    ("mpt_afe_ade7953", "test_read_with_reset_signed_deltas"): (CORE, _HEAP + "the fake chip logs every transfer"),
    ("mpt_storage", "test_footprint_rp2040_256k_and_esp32"): (CORE, _HEAP + "a 256 KB RAM flash image"),
    ("mpt_storage", "test_ring_store_torn_append_every_offset"): (CORE, _HEAP + "two RAM flash images"),
    ("mpt_storage", "test_torn_write_at_every_byte_offset"): (CORE, _HEAP + "two RAM flash images"),
    ("mpt_storage", "test_wear_is_spread_over_the_region"): (CORE, _HEAP + "RAM flash images"),
    ("mpt_storage", "test_file_flash_persists"): (CORE, _HEAP + "RAM flash images (and on the M0: " + _NOFS + ")"),
}

IMAGE = {"m3": "m3", "m0": "m0", "m3-natmod": "m3-nomc", "m0-natmod": "m0"}
NATMOD = {"m3-natmod": ("armv7m", "metercrypto"), "m0-natmod": ("armv6m", "metercrypto_armv6m")}


def test_names(module):
    """The test function names of a tests/mp file, read from its source (as tests/conftest.py)."""
    with open(os.path.join(MP_DIR, module + ".py")) as f:
        return [line[4:line.index("(")] for line in f if line.startswith("def test_")]


def items():
    """[(target, module, test)] of every emulated-board test item, in a stable order."""
    out = []
    for module, targets in QEMU_FILES.items():
        for name in test_names(module):
            for t in targets:
                out.append((t, module, name))
    return out


def natmod_path(arch):
    return os.path.join(ROOT, "build", "natmod", arch, "metercrypto.mpy")


def board_files(target, tmpdir):
    """{device path: host path} of the ROMFS of a target: the test files and helpers, the stand-ins,
    the board files and configuration the tests read, and the natmod where the target loads one."""
    files = device_files()
    if target in NATMOD:
        arch, name = NATMOD[target]
        files["tests/qemu/%s.mpy" % name] = natmod_path(arch)
        hook = os.path.join(tmpdir, "mc_impl.py")
        with open(hook, "w") as f:
            f.write("import %s as mc\n" % name)
        files["tests/qemu/mc_impl.py"] = hook
    return files


class TargetRunner:
    """One emulated board per target, shared by the test items of a pytest module; each test file
    runs in a fresh interpreter (soft reset) and its results are cached."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.boards = {}
        self.results = {}

    def board(self, target):
        b = self.boards.get(target)
        if b is None:
            d = os.path.join(self.tmpdir, target)
            os.makedirs(d, exist_ok=True)
            b = QemuBoard(IMAGE[target], board_files(target, d))
            self.boards[target] = b
            b.start()
        return b

    def run_file(self, target, module):
        key = (target, module)
        if key not in self.results:
            b = self.board(target)
            b.soft_reset()
            try:
                out = b.exec("import sys\nsys.argv[:] = ['_runner', %r]\nimport _runner\n" % module)
                err = ""
            except DeviceError as e:
                out, err = e.output, e.error
            except QemuError as e:
                out, err = "", str(e)
            res = parse_runner_output(out)
            res["__proc__"] = (err, out[-2000:])
            self.results[key] = res
        return self.results[key]

    def close(self):
        for b in self.boards.values():
            b.close()
        self.boards.clear()


def check(runner, target, module, name):
    """The pytest body of one emulated-board item: skip where NOT_ON_MCU says so (with its reason),
    skip a natmod target whose .mpy cannot be built, else fail unless the device reported PASS."""
    import pytest
    from crypto_support import ensure_natmod
    excl = NOT_ON_MCU.get((module, name))
    if excl and target in excl[0]:
        pytest.skip("%s on %s: %s" % (name, target, excl[1]))
    if target in NATMOD:
        reason = ensure_natmod(NATMOD[target][0])
        if reason:
            pytest.fail(reason)  # setup installs the cross compiler: a missing natmod is a failure
    res = runner.run_file(target, module)
    if "__import__" in res:
        pytest.fail("[%s] import of %s failed:\n%s" % (target, module, res["__import__"][1]))
    r = res.get(name)
    if r is None:
        err, out = res["__proc__"]
        pytest.fail("[%s] no result for %s\ndevice error:\n%s\noutput tail:\n%s" % (target, name, err, out))
    kind, msg, out = r
    if kind == "SKIP":
        pytest.skip(msg)
    if kind == "FAIL":
        pytest.fail("[%s] %s%s" % (target, msg, "\n--- output ---\n" + out if out else ""), pytrace=False)


def make_tests(targets):
    """(runner fixture, test function) of a tests/test_qemu_<x>.py module for `targets`: one
    emulated board per target for the module, one pytest item per (target, file, test)."""
    import pytest

    @pytest.fixture(scope="module")
    def runner(tmp_path_factory):
        r = TargetRunner(str(tmp_path_factory.mktemp("qemu")))
        yield r
        r.close()

    @pytest.mark.parametrize("target,module,name", [i for i in items() if i[0] in targets], ids=lambda v: v)
    def test_mp(runner, target, module, name):
        check(runner, target, module, name)

    return runner, test_mp
