# ADE7953 driver against a register-level fake chip: SPI framing (16-bit address, 0x80/0x00 command
# byte, 8/16/24/32-bit data by address page), 24-bit signed energy accumulators with read-with-reset
# (LCYCMODE.RSTREAD) or free-running wrap, LAST_RWDATA24, instantaneous value scaling.
from meter.drivers.afe.ade7953 import ADE7953
from meter.drivers import afe as A
from mptest import eq, raises
from mpt_metrology_fakes import Rng

AENERGYA = 0x21E
AENERGYB = 0x21F
RENERGYA = 0x220
RENERGYB = 0x221
ENERGY = (AENERGYA, AENERGYB, RENERGYA, RENERGYB)


def width(addr):
    page = addr >> 8
    return {0: 1, 1: 2, 2: 3, 3: 4, 7: 1, 8: 1}[page]


class FakeADE7953:
    def __init__(self):
        self.regs = {0x004: 0x40, 0x102: 0x8004}  # LCYCMODE reset value has RSTREAD set
        self.acc = {r: 0 for r in ENERGY}  # signed 24-bit accumulators
        self.last24 = 0
        self.log = []  # (cmd, addr, value)
        self.sel = False
        self.corrupt = 0
        self.pattern = 0x010203

    # chip side
    def add_energy(self, reg, counts):
        v = self.acc[reg] + counts
        self.acc[reg] = ((v + 0x800000) & 0xFFFFFF) - 0x800000

    def _read(self, addr):
        base = addr & 0x2FF if addr >> 8 == 3 else addr
        if base in self.acc:
            v = self.acc[base] & 0xFFFFFF
            if self.regs[0x004] & 0x40:
                self.acc[base] = 0
        elif base == 0x2FF:
            return self.last24
        else:
            v = self.regs.get(addr, 0)
        if width(addr) >= 3:
            self.last24 = v & 0xFFFFFF
        return v

    def _write(self, addr, v):
        if addr == 0x120 and self.regs.get(0x0FE) != 0xAD:
            raise AssertionError("0x120 written without unlocking")
        self.regs[addr] = v

    # SPI side
    def select(self, on):
        self.sel = bool(on)

    def transfer(self, tx, rx):
        assert self.sel, "transfer without chip select"
        addr = (tx[0] << 8) | tx[1]
        n = len(tx) - 3
        eq(n, width(addr), "frame length for 0x%03x" % addr)
        cmd = tx[2]
        if cmd == 0x80:
            v = self._read(addr)
            self.log.append(("r", addr, v))
            if self.corrupt:
                self.corrupt -= 1
                v ^= self.pattern
                self.pattern = (self.pattern << 1) & 0xFFFFFF or 1
            for i in range(n):
                rx[3 + i] = (v >> (8 * (n - 1 - i))) & 0xFF
        elif cmd == 0x00:
            v = 0
            for i in range(n):
                v = (v << 8) | tx[3 + i]
            self.log.append(("w", addr, v))
            self._write(addr, v)
        else:
            raise AssertionError("bad command byte %02x" % cmd)


CAL = {"counts_per_wh": 100, "counts_per_varh": (250, 3), "v_scale": (1, 1000), "i_scale": (1, 100),
       "p_scale": (1, 50), "q_scale": (1, 40), "s_scale": (1, 50), "awgain": 0x401234, "pga_ia": 2}


def test_begin_sequence_and_calibration():
    chip = FakeADE7953()
    d = ADE7953(chip, CAL)
    assert d.begin()
    writes = [(a, v) for c, a, v in chip.log if c == "w"]
    eq(writes[0], (0x0FE, 0xAD))
    eq(writes[1], (0x120, 0x30))
    eq(chip.regs[0x004] & 0x40, 0x40)
    eq(chip.regs[0x201], 0)
    eq(chip.regs[0x282], 0x401234)
    eq(chip.regs[0x008], 2)
    eq((d.counts_per_wh, d.counts_per_wh_den, d.counts_per_varh, d.counts_per_varh_den), (100, 1, 250, 3))


def _run(rstread, seed, steps, maxstep):
    chip = FakeADE7953()
    cal = dict(CAL)
    cal["rstread"] = rstread
    cal["channel_b"] = "circuit2"
    d = ADE7953(chip, cal)
    assert d.begin()
    eq(chip.regs[0x004] & 0x40, 0x40 if rstread else 0)
    rng = Rng(seed)
    want = [0] * A.NCH
    got = [0] * A.NCH
    e = A.energy_buf()
    for _ in range(steps):
        # energy accumulates in several chunks between reads (signed: the chip nets them)
        net = {r: 0 for r in ENERGY}
        for _ in range(rng.below(4)):
            r = rng.pick(ENERGY)
            c = rng.below(2 * maxstep + 1) - maxstep
            chip.add_energy(r, c)
            net[r] += c
        for ch, (ra, rr) in enumerate(((AENERGYA, RENERGYA), (AENERGYB, RENERGYB))):
            b = ch * A.EK
            if net[ra] >= 0:
                want[b + A.E_IMP] += net[ra]
            else:
                want[b + A.E_EXP] -= net[ra]
            if net[rr] >= 0:
                want[b + A.E_QPOS] += net[rr]
            else:
                want[b + A.E_QNEG] -= net[rr]
        assert d.read_energy(e)
        for i in range(A.NCH):
            assert e[i] >= 0
            got[i] += e[i]
    eq(got, want)
    return chip, d


def test_read_with_reset_signed_deltas():
    _run(True, 1, 400, 2500000)  # 3 chunks * 2.5M < 2**23: unambiguous


def test_free_running_accumulator_wraps_24_bit():
    chip, d = _run(False, 2, 400, 2500000)  # wraps the 24-bit register often
    wraps = 0
    chip2 = FakeADE7953()
    d2 = ADE7953(chip2, {"rstread": False})
    d2.begin()
    e = A.energy_buf()
    total = 0
    for _ in range(10):
        chip2.add_energy(AENERGYA, 0x7FFFFF // 2)  # passes 0x7FFFFF -> 0x800000 every 2nd step
        d2.read_energy(e)
        total += e[A.E_IMP]
        if chip2.acc[AENERGYA] < 0:
            wraps += 1
    eq(total, 10 * (0x7FFFFF // 2))
    assert wraps >= 3


def test_counts_before_begin_are_not_taken_without_rstread():
    chip = FakeADE7953()
    chip.add_energy(AENERGYA, 123456)  # the MCU restarted alone: unknown history
    d = ADE7953(chip, {"rstread": False})
    d.begin()
    chip.add_energy(AENERGYA, 10)
    e = A.energy_buf()
    d.read_energy(e)
    eq(e[A.E_IMP], 10)


def test_corrupted_transfer_recovered_from_last_rwdata():
    chip = FakeADE7953()
    d = ADE7953(chip, {})
    d.begin()
    chip.add_energy(AENERGYA, 5000)
    chip.corrupt = 1
    e = A.energy_buf()
    assert d.read_energy(e)
    eq(e[A.E_IMP], 5000)
    eq(d.errors, 0)
    chip.add_energy(AENERGYA, 700)
    chip.corrupt = 3
    assert not d.read_energy(e)
    eq(d.errors, 1)


def test_failed_read_loses_nothing_without_rstread():
    chip = FakeADE7953()
    d = ADE7953(chip, {"rstread": False})
    d.begin()
    chip.add_energy(AENERGYA, 5000)
    chip.corrupt = 4
    e = A.energy_buf()
    assert not d.read_energy(e)
    eq(e[A.E_IMP], 0)
    assert d.read_energy(e)
    eq(e[A.E_IMP], 5000)


def test_instantaneous_scaling():
    chip = FakeADE7953()
    chip.regs.update({0x21C: 2301234, 0x21A: 512345, 0x21B: 1234, 0x212: (-100000) & 0xFFFFFF,
                      0x214: 40000, 0x210: 120000, 0x10A: (-16384) & 0xFFFF, 0x10E: 4474})
    d = ADE7953(chip, CAL)
    inst = A.instant_buf()
    d.read_instant(inst)
    eq(inst[A.I_V], 2301)
    eq(inst[A.I_I], 5123)
    eq(inst[A.I_P], -2000)
    eq(inst[A.I_Q], 1000)
    eq(inst[A.I_S], 2400)
    eq(inst[A.I_PF], -500)
    eq(inst[A.I_FREQ], 223750000 // 4475)
    eq(inst[A.I_IN], 12)  # channel B = neutral by default
    eq(d.phases, 1)


def test_bad_channel_b_option():
    raises(ValueError, ADE7953, FakeADE7953(), {"channel_b": "L3"})
