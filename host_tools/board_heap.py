"""Does the firmware fit a board's heap? The board heap table (with sources) and the measured heap
cost of the firmware loaded as .mpy, used by `deploy` to choose a path and to refuse one that
cannot work.

    BOARDS[board] = {"heap": (low, high) bytes of GC heap free to Python at boot, "source": ...}
    mpy_import_cost() -> bytes       measured now: `import meter.app` from mpy-cross output on the
                                     32-bit Unix build (31-bit small ints, 4-byte pointers, as on
                                     the MCUs), asyncio already imported
    need_bytes(import_cost) -> bytes the heap the running meter needs on top of the boot heap
"""
import os
import shutil
import subprocess
import tempfile

from host_tools.mcu_images import MPY_CROSS, ROOT

UNIX32 = os.path.join(ROOT, "build", "unix32", "micropython")

# GC heap free to Python on each board's stock MicroPython 1.25 (low, high), bytes.
BOARDS = {
    "rp2040": {"heap": (236 * 1024, 251936),
               "source": "Raspberry Pi Pico, rp2 port: the GC heap is the RAM from __GcHeapStart "
                         "(= __StackLimit, after .bss) to __GcHeapEnd (end of the 256 KB main RAM; "
                         "the C stack is in the scratch banks), memmap_mp_rp2040.ld: 251,936 B in the "
                         "image `make images` builds; the low figure leaves 16 KB for what boot "
                         "allocates (not measured on a board here)"},
    "esp32": {"heap": (110 * 1024, 160 * 1024),
              "source": "ESP32-WROOM-32 without PSRAM, esp32 port: 56 KB initial heap "
                        "(MICROPY_GC_INITIAL_HEAP_SIZE, ports/esp32/mpconfigport.h) grown from the "
                        "ESP-IDF heap (MICROPY_GC_SPLIT_HEAP_AUTO) to about 110-160 KB in total, "
                        "depending on the IDF configuration (Wi-Fi/BLE off raises it)"},
    "esp32c3": {"heap": (150 * 1024, 250 * 1024),
                "source": "ESP32-C3 (400 KB SRAM), esp32 port split heap: an estimate, not measured "
                          "here"},
}

# What the running meter allocates besides its code objects: the App's services, buffers and
# tables, measured on the emulated Cortex-M3 (tests/test_qemu_app.py: App() on the test board
# minus the import), plus a working margin for the GC (per-tick churn, telegram buffers, a
# calendar upload's staging).
APP_OBJECTS = 33 * 1024
WORKING_MARGIN = 24 * 1024
# `import meter.app` of the frozen firmware (bytecode in flash) on the same 32-bit build and on the
# emulated M3 (`make bench`, bench_arm): the product image's cost.
FROZEN_IMPORT = 31 * 1024


def need_bytes(import_cost):
    return import_cost + APP_OBJECTS + WORKING_MARGIN


def mpy_import_cost():
    """Heap bytes `import meter.app` takes when the firmware is .mpy files (mpy-cross, bytecode)
    on the 32-bit Unix interpreter; raises RuntimeError if the builds are missing (make setup)."""
    for p in (MPY_CROSS, UNIX32):
        if not os.path.exists(p):
            raise RuntimeError("%s missing: run `make setup`" % p)
    stage = tempfile.mkdtemp(prefix="meter-mpy-")
    try:
        base = os.path.join(ROOT, "firmware")
        for d, _subdirs, names in os.walk(os.path.join(base, "meter")):
            for n in names:
                if n.endswith(".py"):
                    src = os.path.join(d, n)
                    out = os.path.join(stage, os.path.relpath(src, base))[:-3] + ".mpy"
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    subprocess.run([MPY_CROSS, "-o", out, "-s", n, src], check=True, capture_output=True)
        code = ("import gc, asyncio\ngc.collect()\na = gc.mem_alloc()\nimport meter.app\n"
                "gc.collect()\nprint(gc.mem_alloc() - a)\n")
        r = subprocess.run([UNIX32, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ, MICROPYPATH=".frozen:" + stage), timeout=60)
        if r.returncode:
            raise RuntimeError("measuring the .mpy heap cost failed: " + r.stderr[-500:])
        return int(r.stdout.split()[-1])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
