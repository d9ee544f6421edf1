# Test side of the radio path: an independent wM-Bus encoder written from EN 13757-4 (not the
# firmware's: own CRC, own 3-of-6 table, own Manchester), and a virtual-time harness that runs the
# CC1101 model, the real driver and the real link core, with the driver's FIFO service run on GDO
# edges after a latency and/or on a period.
import sys

sys.path.append("boards/unix_sim")

from cc1101_sim import Cc1101Sim  # noqa: E402
from meter.cores.wmbus import mode as M  # noqa: E402
from meter.cores.wmbus.link import Link, OK  # noqa: E402
from meter.drivers.cc1101.core import CC1101  # noqa: E402

from wmbus_ref import on_air, make_frame  # noqa: E402


def sized(target, mode):
    """Length (without CRCs) of the longest frame whose on-air length in `mode` is <= target."""
    best = 11
    for n in range(11, 257):
        if len(on_air(make_frame(n, 1), mode)) <= target:
            best = n
    return best


# --- virtual time harness --------------------------------------------------------------------------


class Clock:
    def __init__(self, us=0):
        self.us = us

    def __call__(self):
        return self.us


class Rig:
    """Model + driver + link on a microsecond clock."""

    def __init__(self, family=M.FAMILY_TC, nbufs=2, dup_window=0):
        self.clock = Clock(1000)
        self.sim = Cc1101Sim(self.clock, ticks_per_s=1000000)
        self.link = Link(dup_window=dup_window)
        self.radio = CC1101(self.sim.spi, self.sim.gdo0, self.sim.gdo2, M.expected_length,
                            self.link.rx_buffers(nbufs))
        self.radio.reset()
        self.radio.start_rx(family)
        self.family = family
        self.frames = []  # (result, frame bytes without CRCs, mode, rssi, lqi)
        self.services = 0
        self.events = 0

    def service(self):
        r = self.radio
        self.events |= r.service()
        self.services += 1
        while r.ready():
            i = r.peek()
            res = self.link.read(r.bufs[i], r.lens[i], r.family, r.rssi[i], r.lqi[i],
                                 self.clock.us // 1000)
            f = self.link.frame
            self.frames.append((res, bytes(self.link.dbuf[:f.n]) if res == OK else None, f.mode,
                                f.rssi, f.lqi))
            r.release()

    def run(self, until_us, latency_us=100, period_us=None, step_us=20):
        """Step virtual time to until_us; service on every GDO edge after latency_us (None: no
        edge service) and every period_us (None: none)."""
        sim, clk = self.sim, self.clock
        due = []
        levels = (sim.gdo0.value(), sim.gdo2.value())
        next_period = clk.us + period_us if period_us else None
        while clk.us < until_us:
            clk.us += step_us
            lv = (sim.gdo0.value(), sim.gdo2.value())
            if lv != levels and latency_us is not None:
                due.append(clk.us + latency_us)
            levels = lv
            run = False
            while due and due[0] <= clk.us:
                due.pop(0)
                run = True
            if next_period is not None and clk.us >= next_period:
                next_period += period_us
                run = True
            if run:
                self.service()
                levels = (sim.gdo0.value(), sim.gdo2.value())
        return self.frames
