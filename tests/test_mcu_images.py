"""The MCU image definitions, checked without building them: the frozen manifests (evaluated with
MicroPython's own tools/manifestfile.py, as the ports' builds do), the ESP32 board definition
(partition table, cmake/sdkconfig wiring) and the rule that boards/ holds tables and wiring only.
The images themselves: qemu ones are built and run by tests/test_qemu_*.py; the RP2040 UF2 by
`make images` (not part of `make test`); the ESP32 image is not built here (no ESP-IDF)."""
import csv
import glob
import io
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_DIR = os.path.join(ROOT, "build", "mpsrc", "micropython")
sys.path.insert(0, os.path.join(MPY_DIR, "tools"))


def frozen(manifest, port, port_dir=None):
    import manifestfile
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {
        "MPY_DIR": MPY_DIR, "MPY_LIB_DIR": os.path.join(MPY_DIR, "lib", "micropython-lib"),
        "PORT_DIR": port_dir or os.path.join(MPY_DIR, "ports", port), "BOARD_DIR": os.path.dirname(manifest)})
    m.execute(manifest)
    return {f.target_path: f.full_path for f in m.files()}


def firmware_modules():
    base = os.path.join(ROOT, "firmware")
    out = set()
    for p in glob.glob(os.path.join(base, "meter", "**", "*.py"), recursive=True):
        out.add(os.path.relpath(p, base).replace(os.sep, "/"))
    return out


def check_product(files):
    want = firmware_modules() - {"meter/app/sim.py"}
    got = {t for t in files if t.startswith("meter/")}
    assert got == want, ("missing", sorted(want - got), "extra", sorted(got - want))
    assert "meter/app/sim.py" not in files  # simulation hooks stay out of product images
    assert files["main.py"] == os.path.join(ROOT, "firmware", "main.py")
    assert files["mcu.py"] == os.path.join(ROOT, "boards", "mcu.py")
    assert "asyncio/core.py" in files


def test_rp2040_manifest_freezes_firmware_board_and_boot():
    files = frozen(os.path.join(ROOT, "boards", "rp2040", "manifest.py"), "rp2")
    check_product(files)
    assert files["board.py"] == os.path.join(ROOT, "boards", "rp2040", "board.py")
    assert files["_boot.py"] == os.path.join(ROOT, "boards", "rp2040", "_boot.py")
    assert "rp2.py" in files


def test_esp32_manifest_freezes_firmware_and_board(tmp_path):
    # the port's own manifest needs micropython-lib (an ESP-IDF user's git checkout has it; the
    # Debian source package does not): stand in an empty one, ours is what is checked
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "manifest.py").write_text('include("$(MPY_DIR)/extmod/asyncio")\n')
    files = frozen(os.path.join(ROOT, "boards", "esp32", "manifest.py"), "esp32", str(tmp_path))
    check_product(files)
    assert files["board.py"] == os.path.join(ROOT, "boards", "esp32", "board.py")


def test_qemu_manifest_freezes_firmware_and_pure_python_asyncio():
    files = frozen(os.path.join(ROOT, "tests", "qemu", "manifest.py"), "qemu")
    want = firmware_modules() - {"meter/app/sim.py"}
    assert want <= set(files)
    assert "asyncio/task.py" in files  # the qemu port has no C _asyncio


def test_a_new_subpackage_is_frozen_without_editing_the_manifest(tmp_path, monkeypatch):
    # the firmware manifest walks the tree: copy it next to a fake meter tree with a new package
    pkg = tmp_path / "meter" / "cores" / "newproto"
    pkg.mkdir(parents=True)
    for p in (tmp_path / "meter" / "__init__.py", tmp_path / "meter" / "cores" / "__init__.py",
              pkg / "__init__.py", pkg / "codec.py"):
        p.write_text("x = 1\n")
    (tmp_path / "meter" / "app").mkdir()
    (tmp_path / "meter" / "app" / "sim.py").write_text("x = 1\n")
    with open(os.path.join(ROOT, "firmware", "manifest.py")) as f:
        (tmp_path / "manifest.py").write_text(f.read())
    files = frozen(str(tmp_path / "manifest.py"), "qemu")
    assert "meter/cores/newproto/codec.py" in files
    assert "meter/app/sim.py" not in files


def _partitions():
    with open(os.path.join(ROOT, "boards", "esp32", "partitions-meter.csv")) as f:
        rows = [r for r in csv.reader(io.StringIO("".join(l for l in f if not l.startswith("#"))))]
    return [[c.strip() for c in r] for r in rows if r]


def test_esp32_partition_table_has_the_meter_region():
    parts = _partitions()
    names = [p[0] for p in parts]
    assert names == ["nvs", "phy_init", "factory", "meter", "vfs"]
    end = 0x9000  # after the bootloader and the partition table (ESP-IDF default offset 0x8000)
    for name, typ, sub, off, size, *_ in parts:
        off, size = int(off, 16), int(size, 16)
        assert off >= end, name  # in order, no overlap
        assert off % (0x10000 if typ == "app" else 0x1000) == 0, name  # ESP-IDF alignment rules
        end = off + size
    assert end <= 4 * 1024 * 1024  # fits the WROOM-32's 4 MB
    meter = parts[names.index("meter")]
    assert meter[1] == "data" and int(meter[4], 16) == 256 * 1024  # 64 erase blocks of 4 KB
    factory = parts[names.index("factory")]
    assert int(factory[4], 16) >= 0x180000  # room for the image with the firmware frozen in
    # the board opens the partition by this label
    with open(os.path.join(ROOT, "boards", "esp32", "board.py")) as f:
        assert 'label="meter"' in f.read()


def test_esp32_board_definition_wiring():
    d = os.path.join(ROOT, "boards", "esp32")
    with open(os.path.join(d, "mpconfigboard.cmake")) as f:
        cmake = f.read()
    for name in ("sdkconfig.board", "partitions-meter.csv", "manifest.py"):
        assert "${MICROPY_BOARD_DIR}/" + name in cmake, name
        assert os.path.exists(os.path.join(d, name)), name
    assert re.search(r"set\(IDF_TARGET esp32\)", cmake)
    with open(os.path.join(d, "sdkconfig.board")) as f:
        sdk = f.read()
    assert "CONFIG_PARTITION_TABLE_CUSTOM=y" in sdk and "CONFIG_ESPTOOLPY_FLASHSIZE_4MB=y" in sdk
    with open(os.path.join(d, "mpconfigboard.h")) as f:
        assert "MICROPY_HW_BOARD_NAME" in f.read()


@pytest.mark.parametrize("board", ["rp2040", "esp32"])
def test_boards_hold_tables_and_wiring_only(board):
    # a board directory: the board file, its manifest and build definitions; rp2040 also the
    # frozen _boot.py that splits the flash storage (a mount, no meter logic)
    allowed = {"board.py", "manifest.py", "_boot.py", "mpconfigboard.cmake", "mpconfigboard.h",
               "sdkconfig.board", "partitions-meter.csv", "README.md"}
    d = os.path.join(ROOT, "boards", board)
    extra = set(os.listdir(d)) - allowed - {"__pycache__"}
    assert not extra, extra
    with open(os.path.join(d, "board.py")) as f:
        src = f.read()
    # only the table-driven McuBoard, no classes of its own
    assert not re.search(r"^class ", src, re.M)
