# The radio port (ports/radio.py) on the 64- and 32-bit interpreters: frames pass the driver and the
# link core to the consumers with their fields, RSSI and LQI, are kept in the diagnostics ring, and
# nothing is allocated per received frame.
import gc
import sys

sys.path.append("tests/mp")

from mptest import eq  # noqa: E402
from meter.cores.wmbus.link import OK  # noqa: E402
from meter.ports.radio import RadioPort  # noqa: E402
from mpt_radio_driver import ReplayChip  # noqa: E402
from radio_harness import on_air, make_frame  # noqa: E402


class _Chip(ReplayChip):
    """The replay chip, answering VERSION (0x31) like a CC1101 (0x14) so that reset() passes."""

    def _byte(self, b):
        if self.hdr >= 0 and self.hdr & 0x3F == 0x31:
            return 0x14
        return ReplayChip._byte(self, b)


class _Clock:
    def __init__(self):
        self.t = 1000

    def time(self):
        return self.t


class _Board:
    def __init__(self):
        self.chip = _Chip()
        self.clock = _Clock()

    def log(self, text):
        raise AssertionError(text)

    def spi(self, name):
        eq(name, "radio")
        return self.chip

    def pin(self, name):
        return self.chip.gdo0 if name == "radio_gdo0" else self.chip.gdo2


def _port():
    b = _Board()
    p = RadioPort(b, {"dup_window": 0, "keep": 3})
    p.radio._st = 0  # hunting (the replay chip has no state machine)
    return b, p


def _one(b, p, pkt):
    b.chip.load(pkt)
    for _ in range(20):
        p.poll()
        if b.chip.pos >= b.chip.n:
            break


def _alloc_over(fn, k):
    """Bytes allocated by k calls of fn() with the collector off."""
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        for i in range(k):
            fn(i)
        return gc.mem_alloc() - a
    finally:
        gc.enable()


def test_frames_to_consumers_and_ring():
    b, p = _port()
    seen = []
    p.consumers.append(lambda f, now: seen.append((f.id_str(), f.manufacturer(), f.ci, f.rssi, now)))
    for n, md, fm in ((20, "C1", "A"), (60, "T1", "A"), (200, "C1", "B"), (40, "T1", "A")):
        _one(b, p, on_air(make_frame(n, n), md, fm))
    eq(len(seen), 4)
    eq(seen[0], ("00000014", "KAM", 0x7A, 28 // 2 - 74, 1000))
    fr = p.frames()
    eq(len(fr), 3)  # the ring keeps the last 3
    eq([f["id"] for f in fr], ["0000003c", "000000c8", "00000028"])
    eq(fr[2]["mode"], "T1")
    eq(fr[2]["hex"], "".join("%02x" % x for x in make_frame(40, 40)))
    s = p.stats()
    eq((s["ok"], s["received"], s["crc"]), (4, 4, 0))


def test_no_allocation_per_frame():
    b, p = _port()
    cnt = bytearray(1)

    def consumer(f, now):
        cnt[0] += 1

    p.consumers.append(consumer)
    pk = [on_air(make_frame(n, n), md, fm) for n, md, fm in
          ((20, "C1", "A"), (60, "T1", "A"), (200, "C1", "B"), (256, "T1", "A"), (120, "C1", "A"))]
    for x in pk:  # warm up
        _one(b, p, x)
    used = _alloc_over(lambda k: _one(b, p, pk[k % 5]), 50)
    eq(p.link.stats[0], 55)
    eq(cnt[0], 55)
    eq(used, 0, "bytes allocated over 50 frames")


def test_corrupt_t1_no_allocation():
    """A T1 packet with an invalid 3-of-6 code word is ERR_CODING, counted, with no allocation
    (no exception from the native decoder on the way)."""
    b, p = _port()
    good = on_air(make_frame(60, 9), "T1")
    bad = bytearray(good)
    bad[20] = 0xFF  # 111111: no 3-of-6 word
    _one(b, p, good)
    _one(b, p, bad)
    used = _alloc_over(lambda k: _one(b, p, bad), 20)
    s = p.stats()
    eq((s["ok"], s["coding"]), (1, 21))
    eq(used, 0, "bytes allocated over 20 corrupt frames")
