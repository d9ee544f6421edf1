# BL0942 driver against a byte-level fake chip on a fake UART: read command 0x58|A + register (3 data
# bytes LSB first + checksum), full packet 0x58|A 0xAA (23 bytes), write 0xA8|A + reg + 3 bytes +
# checksum with USR_WRPROT, CF_CNT 24-bit wrapping counter, checksum failures and missing answers.
from meter.drivers.afe.bl0942 import BL0942
from meter.drivers import afe as A
from mptest import eq
from mpt_metrology_fakes import Rng


def csum(first, data):
    return (~(first + sum(data))) & 0xFF


class FakeBL0942:
    def __init__(self, addr=0):
        self.addr = addr
        self.inbuf = bytearray()
        self.out = bytearray()
        self.regs = {0x19: 0x87, 0x1D: 0x00}
        self.cf_cnt = 0
        self.i_rms = 0
        self.v_rms = 0
        self.watt = 0
        self.period_us = 20000
        self.baud = None
        self.bad_writes = 0
        self.corrupt_next = False
        self.silent = False
        self.junk = b""

    # UART side (board HAL)
    def init(self, baudrate, bits=8, parity=None, stop=1):
        self.baud = (baudrate, bits, parity, stop)

    def write(self, buf):
        self.inbuf += bytes(buf)
        self._parse()

    def any(self):
        return len(self.out)

    def readinto(self, buf):
        n = min(len(buf), len(self.out))
        if n == 0:
            return None
        for i in range(n):
            buf[i] = self.out[i]
        self.out = bytearray(self.out[n:])
        return n

    # chip side
    def add_pulses(self, n):
        self.cf_cnt = (self.cf_cnt + n) & 0xFFFFFF

    def _u24(self, v):
        v &= 0xFFFFFF
        return bytes((v & 0xFF, (v >> 8) & 0xFF, v >> 16))

    def _parse(self):
        b = self.inbuf
        i = 0
        while i < len(b):
            if b[i] == 0x58 | self.addr:
                if len(b) - i < 2:
                    break
                reg = b[i + 1]
                i += 2
                if self.silent:
                    continue
                if reg == 0xAA:
                    body = bytearray(b"\x55")
                    body += self._u24(self.i_rms) + self._u24(self.v_rms) + self._u24(0)
                    body += self._u24(self.watt) + self._u24(self.cf_cnt)
                    body += bytes((self.period_us & 0xFF, self.period_us >> 8, 0)) + bytes(3)
                    body.append(csum(0x58 | self.addr, body))
                else:
                    d = self._u24(self.regs.get(reg, 0))
                    body = bytearray(d + bytes((csum(0x58 | self.addr, bytes((reg,)) + d),)))
                if self.corrupt_next:
                    self.corrupt_next = False
                    body[-2] ^= 0x40
                self.out += self.junk + body
                self.junk = b""
            elif b[i] == 0xA8 | self.addr:
                if len(b) - i < 6:
                    break
                frame = bytes(b[i:i + 6])
                i += 6
                if frame[5] != csum(frame[0], frame[1:5]):
                    self.bad_writes += 1
                    continue
                reg = frame[1]
                v = frame[2] | (frame[3] << 8) | (frame[4] << 16)
                if reg == 0x1D or self.regs.get(0x1D) == 0x55:
                    self.regs[reg] = v
            else:
                i += 1  # garbage byte
        self.inbuf = bytearray(b[i:])


CAL = {"counts_per_wh": "3.3046", "v_scale": (10, 15873), "i_scale": (4, 1005), "p_scale": (1, 596)}


def _begin(chip, cal=CAL):
    d = BL0942(chip, cal)
    assert d.begin()
    return d


def test_begin_sets_mode_with_valid_checksums():
    chip = FakeBL0942()
    d = _begin(chip)
    eq(chip.baud, (4800, 8, None, 1))
    eq(chip.bad_writes, 0)
    eq(chip.regs[0x19], 0x03 | 0x04 | 0x08 | 0x80)  # CF_EN, 800 ms RMS, absolute CF_CNT, not cleared
    eq(chip.regs[0x1D], 0)  # write protection restored
    eq((d.counts_per_wh, d.counts_per_wh_den), (16523, 5000))
    chip60 = FakeBL0942(addr=2)
    cal = dict(CAL)
    cal["line_freq"] = 60
    cal["address"] = 2
    _begin(chip60, cal)
    eq(chip60.regs[0x19] & 0x20, 0x20)


def test_energy_deltas_wrap_and_direction():
    chip = FakeBL0942()
    chip.cf_cnt = 0xFFF000  # the driver takes whatever it finds as the baseline
    d = _begin(chip)
    e = A.energy_buf()
    assert d.read_energy(e)  # answer to begin()'s request: baseline only
    eq(list(e), [0] * A.NCH)
    rng = Rng(5)
    pending = (0, False)  # (pulses, export) carried by the packet requested at the previous call
    tot = 0
    for _ in range(300):
        n = rng.below(3000)
        export = rng.below(3) == 0
        chip.watt = (-1 - rng.below(5000)) & 0xFFFFFF if export else rng.below(5000)
        chip.add_pulses(n)
        assert d.read_energy(e)  # collects the previous packet, requests one with this state
        want = (0, pending[0]) if pending[1] else (pending[0], 0)
        eq((e[A.E_IMP], e[A.E_EXP]), want)
        eq(e[A.E_QPOS] + e[A.E_QNEG], 0)
        tot += e[A.E_IMP] + e[A.E_EXP]
        pending = (n, export)
    assert chip.cf_cnt < 0xFFF000  # the 24-bit counter wrapped during the run
    assert tot > 300000


def _collect_all(d, chip, steps):
    e = A.energy_buf()
    imp = exp = 0
    for n in steps:
        chip.add_pulses(n)
        d.read_energy(e)
        imp += e[A.E_IMP]
        exp += e[A.E_EXP]
    for _ in range(2):
        d.read_energy(e)
        imp += e[A.E_IMP]
        exp += e[A.E_EXP]
    return imp, exp


def test_every_pulse_counted_once_across_wrap():
    chip = FakeBL0942()
    chip.cf_cnt = 0xFFFFF0
    d = _begin(chip)
    steps = [7 + k for k in range(50)]
    imp, exp = _collect_all(d, chip, steps)
    eq((imp, exp), (sum(steps), 0))
    assert chip.cf_cnt < 0xFFFFF0  # it did wrap


def test_export_by_sign_of_watt():
    chip = FakeBL0942()
    d = _begin(chip)
    e = A.energy_buf()
    d.read_energy(e)  # baseline
    chip.watt = (-1234) & 0xFFFFFF
    chip.add_pulses(40)
    d.read_energy(e)  # collects the packet requested before these pulses: nothing yet
    d.read_energy(e)
    eq((e[A.E_IMP], e[A.E_EXP]), (0, 40))


def test_bad_checksum_and_silence_lose_nothing():
    chip = FakeBL0942()
    d = _begin(chip)
    e = A.energy_buf()
    d.read_energy(e)  # baseline 0
    chip.add_pulses(100)
    chip.corrupt_next = True
    assert d.read_energy(e)  # collects the packet from before the pulses; requests a garbled one
    chip.silent = True
    assert not d.read_energy(e)  # bad checksum; the next request gets no answer
    eq(d.errors, 1)
    chip.silent = False
    chip.add_pulses(5)
    assert not d.read_energy(e)  # nothing arrived
    eq(d.misses, 1)
    assert d.read_energy(e)
    eq(e[A.E_IMP], 105)  # the counter is not cleared by reads: nothing was lost


def test_junk_in_rx_buffer_is_discarded():
    chip = FakeBL0942()
    d = _begin(chip)
    e = A.energy_buf()
    d.read_energy(e)
    chip.out += b"\x00\x13"  # line noise arrives before the request is sent
    chip.add_pulses(9)
    d.read_energy(e)
    d.read_energy(e)
    eq(e[A.E_IMP], 9)


def test_instantaneous_values():
    chip = FakeBL0942()
    chip.v_rms = 3652000  # 230.07 V at 15873 counts per V
    chip.i_rms = 1256065  # 5 A at 251213 counts per A
    chip.watt = 685400  # 1150 W at 596 counts per W
    chip.period_us = 20010
    d = _begin(chip)
    e = A.energy_buf()
    inst = A.instant_buf()
    d.read_energy(e)
    assert d.read_instant(inst)
    eq(inst[A.I_V], 3652000 * 10 // 15873)
    eq(inst[A.I_I], 1256065 * 4 // 1005)
    eq(inst[A.I_P], 685400 // 596)
    eq(inst[A.I_FREQ], 1000000000 // 20010)
    s = inst[A.I_V] * inst[A.I_I] // 10000
    eq(inst[A.I_S], s)
    eq(inst[A.I_PF], inst[A.I_P] * 1000 // s)
    eq(inst[A.I_IN], -1)
