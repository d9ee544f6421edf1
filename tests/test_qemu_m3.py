"""tests/mp files on an emulated Cortex-M3 (MPS2-AN385), through its REPL (MicroPython's qemu port
under qemu-system-arm, driven with mpremote). The selection and the per-target exclusions with their
reasons are in tests/qemu_support.py (QEMU_FILES, NOT_ON_MCU)."""
import pytest

from qemu_support import TargetRunner, check, items

TARGETS = ("m3",)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = TargetRunner(str(tmp_path_factory.mktemp("qemu")))
    yield r
    r.close()


@pytest.mark.parametrize("target,module,name", [i for i in items() if i[0] in TARGETS],
                         ids=lambda v: v)
def test_mp(runner, target, module, name):
    check(runner, target, module, name)
