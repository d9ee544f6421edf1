# Test-only board for running the whole app (meter.app.App, frozen in the image) on the emulated
# Cortex-M3, and the metering run driven by tests/test_qemu_app.py and host_tools/bench_arm.py.
#
# The board keeps the HAL contract of boards/README.md with fakes: the virtual clock of
# tests/qemu/time.py (asyncio waits advance it), a constant-count AFE (FixedAfe: the firmware's own
# cost, no simulator), the NOR flash emulator of tests/mp/flash_fakes.py over PSRAM outside the
# heap, a P1 UART that keeps the last telegram only, the P1 request line held active.
import gc
import time

import uctypes
from flash_fakes import RamFlash

EPOCH = 220000000  # meter seconds (2026-12-21 ...), UTC
FLASH_ADDR = 0x21C00000  # MPS2-AN385 PSRAM above the FAT RAM disk (tests/qemu/qboot.py)
FLASH_SIZE = 256 * 1024


class FixedAfe:
    """Constant counts each read: `imp` import counts per phase, 11 counts per Wh."""
    name = "fixed"
    phases = 3
    has_reactive = True
    counts_per_wh = 11
    counts_per_wh_den = 1
    max_delta = 0xFFFF
    errors = 0

    def __init__(self, imp=20):
        self.imp = imp

    def begin(self):
        return True

    def read_energy(self, out):
        for ph in range(3):
            out[ph * 4] = self.imp
            out[ph * 4 + 1] = 0
            out[ph * 4 + 2] = 4
            out[ph * 4 + 3] = 1
        return True

    def read_instant(self, out):
        for ph in range(3):
            b = ph * 6
            out[b] = 2300
            out[b + 1] = 10000
            out[b + 2] = 2300
            out[b + 3] = 100
            out[b + 4] = 2302
            out[b + 5] = 999
        out[18] = 50000
        out[19] = 0
        return True


class PsramFlash(RamFlash):
    """RamFlash (NOR semantics) whose array is PSRAM, not heap: a board's flash costs no heap."""

    def __init__(self):
        self.size, self.block_size = FLASH_SIZE, 4096
        self.mem = uctypes.bytearray_at(FLASH_ADDR, FLASH_SIZE)
        mv = memoryview(self.mem)
        ff = b"\xff" * 4096
        for off in range(0, FLASH_SIZE, 4096):
            mv[off:off + 4096] = ff
        self.cut_after, self.cut_bits, self.erase_cut = -1, 0xFF, False
        self.writes = self.bytes_written = 0
        self.erases = [0] * (FLASH_SIZE // 4096)


class Clock:
    valid = True

    def __init__(self):
        self.base = EPOCH

    def time(self):
        return self.base + time.ticks_ms() // 1000

    def time_ms(self):
        ms = time.ticks_ms()
        return self.base + ms // 1000, ms % 1000

    def ticks_ms(self):
        return time.ticks_ms()

    @staticmethod
    def ticks_diff(a, b):
        return time.ticks_diff(a, b)

    def set_time(self, t):
        self.base = t - time.ticks_ms() // 1000

    async def sleep_ms(self, ms):
        import asyncio
        await asyncio.sleep_ms(ms)


class Pin:
    def __init__(self, v=0):
        self.v = v

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def irq(self, handler=None, trigger=None):
        pass


class P1Uart:
    """Keeps the last complete telegram ("/" ... "!CRC\r\n") and counts them."""

    def __init__(self):
        self.buf = bytearray(2048)
        self.n = 0
        self.last = b""
        self.telegrams = 0

    def init(self, *a, **k):
        pass

    def write(self, data):
        n = len(data)
        if n and data[0] == 0x2F:  # "/": a telegram starts
            self.n = 0
        self.buf[self.n:self.n + n] = data
        self.n += n
        if self.n >= 7 and self.buf[self.n - 2] == 0x0D and self.buf[self.n - 7] == 0x21:  # "!CRC\r\n"
            self.last = bytes(self.buf[:self.n])
            self.telegrams += 1
        return n


class QuietUart:
    def init(self, *a, **k):
        pass

    def any(self):
        return 0

    def readinto(self, buf):
        return None

    def read(self, n=-1):
        return None

    def write(self, data):
        return len(data)


class Keys:
    def get(self, name):
        return None


class Board:
    name = "qemu"
    config_dir = "/config"

    def __init__(self, imp=20):
        self.config = {"identity": {"manufacturer": "OMT", "model": "OMT-QEMU", "equipment_id": "E0001",
                                    "serial": "1", "optical_address": ""},
                       "p1": {"profile": "dsmr5"}}
        self.clock = Clock()
        self.afe = FixedAfe(imp)
        self.storage = PsramFlash()
        self.keys = Keys()
        self.p1 = P1Uart()
        self.optical = QuietUart()
        self.pins = {}

    def uart(self, role):
        return self.p1 if role == "p1" else self.optical

    def pin(self, name):
        p = self.pins.get(name)
        if p is None:
            p = self.pins[name] = Pin(1 if name == "p1_req" else 0)
        return p

    def spi(self, name):
        raise ValueError("no SPI on the qemu board")

    def tasks(self):
        return []

    def log(self, text):
        print("log:", text)


def heap():
    gc.collect()
    return gc.mem_free(), gc.mem_alloc()


def make_app(imp=20):
    import os
    try:
        os.mkdir("/config")
    except OSError:
        pass
    from meter.app import App
    return App(Board(imp))


def run(seconds, imp=20):
    """Build the app and run its asyncio tasks for `seconds` of virtual time; print the figures
    tests/test_qemu_app.py reads (one `key value` per line) and the last P1 telegram."""
    import asyncio
    free0, alloc0 = heap()
    import meter.app  # noqa: F401
    free1, alloc1 = heap()
    app = make_app(imp)
    free2, alloc2 = heap()

    async def main():
        asyncio.create_task(app.run())
        await asyncio.sleep_ms(seconds * 1000)

    asyncio.run(main())
    free3, _ = heap()
    b = app.board
    print("heap_free_boot", free0)
    print("heap_import_cost", alloc1 - alloc0)
    print("heap_free_after_import", free1)
    print("heap_app_cost", alloc2 - alloc0)
    print("heap_free_after_app", free2)
    print("heap_free_after_run", free3)
    print("ticks", seconds)
    print("telegrams", b.p1.telegrams)
    print("import_wh", app.registers.value("1-0:1.8.0"))
    print("saves", app.store.saves)
    print("@@TELEGRAM")
    print(b.p1.last.decode())
