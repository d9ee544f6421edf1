# ATM90E32 driver: SPI framing, read-to-clear energy registers, LastSPIData checks, wrap, instantaneous
# values, against the register-level simulator boards/unix_sim/afe_sim.py and a byte-recording fake.
import sys

sys.path.append("boards/unix_sim")

from afe_sim import AfeSim, AfeSimSpi  # noqa: E402
from calibration import CALIBRATION  # noqa: E402
from meter.drivers.afe.atm90e32 import ATM90E32  # noqa: E402
from meter.drivers import afe as A  # noqa: E402
from mptest import eq, raises  # noqa: E402
from mpt_metrology_fakes import Rng  # noqa: E402


class Clock:
    def __init__(self, ms=0):
        self.ms = ms

    def __call__(self):
        return self.ms


class RecordingSpi:
    """Records every frame; answers reads from `answers` (addr -> value)."""

    def __init__(self, answers=None):
        self.frames = []
        self.sel = []
        self.answers = answers or {}

    def select(self, on):
        self.sel.append(bool(on))

    def transfer(self, tx, rx):
        self.frames.append(bytes(tx))
        addr = ((tx[0] & 0x03) << 8) | tx[1]
        v = self.answers.get(addr, 0) if tx[0] & 0x80 else 0
        rx[0] = 0
        rx[1] = 0
        rx[2] = (v >> 8) & 0xFF
        rx[3] = v & 0xFF


def test_spi_framing():
    spi = RecordingSpi({0xD9: 0x59F1})
    d = ATM90E32(spi, {"meter_constant": 3200})
    eq(d.read(0xD9), 0x59F1)
    d.write(0x00, 0x0001)
    d.write(0x31, 0xABCD)
    eq(spi.frames, [b"\x80\xd9\x00\x00", b"\x00\x00\x00\x01", b"\x00\x31\xab\xcd"])
    eq(spi.sel, [True, False] * 3)
    eq((d.counts_per_wh, d.counts_per_wh_den), (320, 1))
    d2 = ATM90E32(spi, {"meter_constant": (125, 1)})
    eq((d2.counts_per_wh, d2.counts_per_wh_den), (25, 2))
    ATM90E32(spi, {"meter_constant": 10000, "counts_per_wh": 1000})  # consistent: accepted
    raises(ValueError, ATM90E32, spi, {"meter_constant": 10000, "counts_per_wh": 100})


def test_begin_configures_pl_constant_and_gains():
    clk = Clock()
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    assert d.begin()
    pl = 450000000000 // 110
    eq((sim.regs[0x31] << 16) | sim.regs[0x32], pl)
    eq(sim.regs[0x00], 1)
    eq(sim.regs[0x7F], 0)  # configuration access locked again
    eq(sim.regs[0x61], 0x8000)
    eq(sim.regs[0x6A], 0x8000)
    eq(sim.regs[0x33], 0x0185)


def _truth(segments, t_end, n, d):
    """Independent integration of piecewise constant loads: {(phase, kind): counts at t_end}."""
    out = {}
    for ph in range(3):
        e = [0, 0, 0, 0]
        segs = [s for s in segments if s[1] == ph]
        for k in range(len(segs)):
            t0, _, p, q = segs[k]
            t1 = segs[k + 1][0] if k + 1 < len(segs) else t_end
            t1 = min(t1, t_end)
            if t1 <= t0:
                continue
            dt = t1 - t0
            if p >= 0:
                e[0] += p * dt
            else:
                e[1] += -p * dt
            if q >= 0:
                e[2] += q * dt
            else:
                e[3] += -q * dt
        for kind in range(4):
            out[(ph, kind)] = e[kind] * n // (3600000000 * d)
    return out


def test_energy_counts_exact_over_random_loads():
    rng = Rng(77)
    clk = Clock(1000)
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    d.begin()
    segments = []
    for ph in range(3):
        segments.append((1000, ph, 0, 0))
    total = [0] * A.NCH
    e = A.energy_buf()
    t = 1000
    for _ in range(600):
        t += rng.pick((1, 1, 10, 333, 900, 1000, 60000, 899999))
        if rng.below(3) == 0:
            ph = rng.below(3)
            p = rng.below(46000001) - 23000000  # -23..+23 kW in mW
            q = rng.below(10000001) - 5000000
            sim.set_load(ph + 1, 230000, abs(p) // 230, p, q, t)
            segments.append((t, ph, p, q))
            t += rng.pick((0, 1, 250))
        clk.ms = t
        assert d.read_energy(e)
        for i in range(A.NCH):
            total[i] += e[i]
    truth = _truth(segments, t, 11, 1)
    for ph in range(3):
        for kind in range(4):
            eq(total[ph * A.EK + kind], truth[(ph, kind)], "phase %d kind %d" % (ph, kind))
    eq(sim.overflows, 0)
    assert sum(total) > 100000


def test_read_to_clear():
    clk = Clock(0)
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    sim.set_load(1, 230000, 10000, 2300000, 0, 0)
    clk.ms = 3600000  # 2.3 kWh at 11 counts/Wh
    e = A.energy_buf()
    d.read_energy(e)
    eq(e[0], 25300)
    d.read_energy(e)
    eq(e[0], 0)


def test_register_wraps_like_the_chip_beyond_max_step():
    clk = Clock(0)
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    sim.set_load(2, 230000, 100000, 23000000, 0, 0)
    step = sim.max_step_ms()
    assert step >= 900000, step  # 900 s ticks are safe at 23 kW per phase
    e = A.energy_buf()
    clk.ms = step
    d.read_energy(e)
    assert e[A.EK] <= 0xFFFF and sim.overflows == 0
    before = sim.counts(2, 0)
    clk.ms = step + 2 * step  # twice the safe step: the read-to-clear register wrapped
    d.read_energy(e)
    true_delta = sim.counts(2, 0) - before
    eq(e[A.EK], true_delta & 0xFFFF)
    assert true_delta > 0xFFFF
    eq(sim.overflows, 1)


def test_lastspidata_recovers_a_corrupted_transfer():
    clk = Clock(0)
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    sim.set_load(1, 230000, 1000, 230000, 0, 0)
    clk.ms = 3600000
    e = A.energy_buf()
    sim.corrupt_reads = 1  # the energy register read is garbled on MISO
    assert d.read_energy(e)
    eq(e[0], 2530)
    eq(d.errors, 0)


def test_unconfirmed_read_is_an_error():
    clk = Clock(0)
    sim = AfeSim(clk, CALIBRATION)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    sim.set_load(1, 230000, 1000, 230000, 0, 0)
    clk.ms = 3600000
    e = A.energy_buf()
    sim.corrupt_reads = 3  # value and two LastSPIData reads garbled: the third one is clean...
    assert not d.read_energy(e)  # ...but nothing agrees with it
    eq(e[0], 0)
    eq(d.errors, 1)
    clk.ms = 7200000
    sim.corrupt_reads = 2  # value and the first LastSPIData garbled, the next two agree
    assert d.read_energy(e)
    eq(e[0], 2530)
    eq(d.errors, 1)


def test_instantaneous_values_and_noise():
    clk = Clock(0)
    sim = AfeSim(clk, CALIBRATION, noise=False)
    d = ATM90E32(AfeSimSpi(sim), CALIBRATION)
    sim.set_load(1, 231450, 12345, 2500000, 1200000, 0)
    sim.set_load(2, 229000, 4000, -800000, -300000, 0)
    sim.set_frequency(49980)
    inst = A.instant_buf()
    d.read_instant(inst)
    eq(list(inst[0:6]), [2314, 12345, 2500, 1200, 231450 * 12345 // 1000000, 2500000 * 1000 // (231450 * 12345 // 1000)])
    eq(list(inst[6:12]), [2290, 4000, -800, -300, 916, -(800000 * 1000 // 916000)])
    eq(inst[A.I_FREQ], 49980)
    noisy = AfeSim(clk, CALIBRATION, seed=5)
    dn = ATM90E32(AfeSimSpi(noisy), CALIBRATION)
    noisy.set_load(1, 231450, 12345, 2500000, 1200000, 0)
    raises(ValueError, noisy.set_load, 0, 230000, 0, 0, 0, 0)
    seen = set()
    for _ in range(20):
        dn.read_instant(inst)
        assert abs(inst[A.I_I] - 12345) <= 2 and abs(inst[A.I_P] - 2500) <= 1
        seen.add(inst[A.I_I])
    assert len(seen) > 1  # there is noise, and it is small


def test_soft_reset_option_clears_energy():
    clk = Clock(0)
    cal = dict(CALIBRATION)
    cal["soft_reset"] = True
    sim = AfeSim(clk, cal)
    d = ATM90E32(AfeSimSpi(sim), cal)
    sim.set_load(1, 230000, 1000, 230000, 0, 0)
    clk.ms = 3600000
    d.begin()
    e = A.energy_buf()
    d.read_energy(e)
    eq(e[0], 0)
