"""Register-level model of an ATM90E32 for the unix_sim board, fed by the rig's load model.

The firmware's real driver (meter/drivers/afe/atm90e32.py) talks to it through AfeSimSpi, a fake SPI bus with
the board HAL's interface (select(on), transfer(tx, rx), write(buf), readinto(buf, write=0)), so the
simulation exercises the driver's framing, read-to-clear handling and LastSPIData checks.

    sim = AfeSim(now_ms_fn, calibration)     # now_ms_fn() -> virtual ms (int, never wraps)
    spi = AfeSimSpi(sim)
    sim.set_load(phase, mv, ma, p_mw, q_mvar, at_ms)   # phase 1..3 = L1..L3 (as the rig's `load`
                                              # command); p, q signed (+ = import)
    sim.set_supply(closed, at_ms)             # the supply relay (boards/unix_sim/relay_sim.py):
                                              # open = the loads draw no current
    sim.advance_to(ms)                        # integrate energy up to virtual ms (reads do it too)

Loads are piecewise constant: a load set at at_ms holds until the next set_load of that phase. Time
never goes back (set_load/advance_to with an earlier ms integrate nothing).

Energy, exact (no noise, no floating point). Per phase k (L1..L3) and channel, the chip integrates
    E_imp_k(t)  = sum over segments of max(p_mw, 0)  * dt_ms      [mW*ms = uJ]
    E_exp_k(t)  = sum over segments of max(-p_mw, 0) * dt_ms
    E_qpos_k(t) = sum over segments of max(q_mvar, 0) * dt_ms
    E_qneg_k(t) = sum over segments of max(-q_mvar, 0) * dt_ms
from the AfeSim's creation to t, and its counter for the channel is
    C(t) = floor(E(t) * N / (3 600 000 000 * D))
where counts_per_wh = N / D = meter_constant * 100 / 1000 reduced (unix_sim calibration: MC = 110
imp/kWh -> N / D = 11 / 1); the fractional part stays inside the chip, like a real accumulator.
The read-to-clear register of the channel (APenergyA/B/C 0x81-0x83, ANenergy 0x85-0x87, RPenergy
0x89-0x8B, RNenergy 0x8D-0x8F) returns (C(t_read) - C(t_previous_read)) mod 2**16 and clears;
if the difference reached 2**16 the register wrapped like the chip's and `overflows` counts it (the
firmware then lost 65536-count multiples: the rig must keep ticks short enough, see max_step_ms()).
The total registers (0x80, 0x84, 0x88, 0x8C) use E = the sum over the three phases. So, with no
overflow and no power cut, after the firmware's read at virtual time t the meter has seen exactly
C_k(t) counts per phase and channel, and e.g. 1-0:21.8.0 = floor(C_imp_L1(t) * D / N) Wh,
1-0:1.8.0 = floor((C_imp_L1 + C_imp_L2 + C_imp_L3)(t) * D / N) Wh with remainder
(sum C * D) mod N in units of 1/N Wh. A rig computes these independently with Python Fractions from
the load segments it set.

Instantaneous values (with small deterministic noise from a seeded xorshift32; `noise=False` turns it
off): Urms 0.01 V = mv // 10, Irms mA = ma, Pmean/Qmean W/var (signed 16-bit + 8 fraction bits in
the *LSB registers) = p_mw / 1000, Smean VA = mv * ma / 1e6, PFmean 0.001 = 1000 * P / S (sign of
P), Freq 0.01 Hz (50.00 Hz unless set_frequency()), IrmsN mA from the three currents at 120 degrees.
Noise amplitude: +-2 LSB on Urms (0.01 V), Irms (mA) and Smean (VA), +-2/256 W (var) on Pmean/Qmean,
+-1 LSB on PF and frequency.

Configuration registers are stored and read back; SoftReset (0x70 = 0x789A) resets them and clears
the energy registers (counts accumulated so far are discarded, as on the chip). LastSPIData (0x78)
holds the data of the last read or write. `corrupt_reads = n` flips MISO bits of the next n register
reads on the wire, with a different pattern each time (LastSPIData keeps the true value), to test the
driver's checks.
"""
try:
    from calibration import CALIBRATION
except ImportError:  # imported as a package module
    CALIBRATION = None

MWMS_PER_WH = 3600000000

LASTSPIDATA = 0x78
SOFTRESET = 0x70
METEREN = 0x00
_E_PHASE = {0x81: (0, 0), 0x82: (1, 0), 0x83: (2, 0), 0x85: (0, 1), 0x86: (1, 1), 0x87: (2, 1),
            0x89: (0, 2), 0x8A: (1, 2), 0x8B: (2, 2), 0x8D: (0, 3), 0x8E: (1, 3), 0x8F: (2, 3)}
_E_TOTAL = {0x80: 0, 0x84: 1, 0x88: 2, 0x8C: 3}
_E_INDEX = {a: ph * 4 + kind for a, (ph, kind) in _E_PHASE.items()}  # register -> acc index


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _isqrt(n):
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def counts_per_wh(calibration):
    """(N, D): counts per Wh of an ATM90E32 calibration (meter_constant imp/kWh, 0.01 CF per LSB)."""
    mc = calibration.get("meter_constant", 3200)
    if isinstance(mc, (tuple, list)):
        n, d = mc[0] * 100, mc[1] * 1000
    else:
        n, d = mc * 100, 1000
    g = _gcd(n, d)
    return n // g, d // g


class AfeSim:
    def __init__(self, now_ms_fn, calibration=None, seed=0x2545F491, noise=True):
        cal = calibration or CALIBRATION or {"meter_constant": 110}
        self.now_ms_fn = now_ms_fn
        self.n, self.d = counts_per_wh(cal)
        self._scale = MWMS_PER_WH * self.d
        self.t = now_ms_fn()
        self.mv = [230000, 230000, 230000]
        self.ma = [0, 0, 0]
        self.p = [0, 0, 0]
        self.q = [0, 0, 0]
        self.load = [(0, 0, 0), (0, 0, 0), (0, 0, 0)]  # (ma, p, q) the loads draw when supplied
        self.supply = True  # the supply relay's contact
        self.switch_at = None  # virtual ms at which the relay model moves the contact (pending)
        self.on_switch = None  # fn(ms): the relay model's move, called when time reaches switch_at
        self.freq = 5000  # 0.01 Hz
        self.acc = [0] * 12  # phase * 4 + kind, mW*ms
        self.acc_t = [0] * 4  # totals by kind
        self.read_c = [0] * 12  # counts at the previous read of each phase register
        self.read_ct = [0] * 4
        self.regs = {}
        self.last_spi = 0
        self.overflows = 0
        self.reads = 0
        self.corrupt_reads = 0
        self.corrupted = 0
        self.noise = noise
        self._rng = seed & 0xFFFFFFFF or 1

    # --- load model ------------------------------------------------------------------------------------
    def advance_to(self, ms):
        sw = self.switch_at
        if sw is not None and sw <= ms:  # the relay's contact moves on the way: integrate up to it
            self.switch_at = None
            self._integrate(sw)
            self.on_switch(sw)
        self._integrate(ms)

    def _integrate(self, ms):
        dt = ms - self.t
        if dt <= 0:
            return
        acc = self.acc
        at = self.acc_t
        for ph in range(3):
            b = ph * 4
            p = self.p[ph]
            q = self.q[ph]
            if p > 0:
                acc[b] += p * dt
                at[0] += p * dt
            elif p < 0:
                acc[b + 1] -= p * dt
                at[1] -= p * dt
            if q > 0:
                acc[b + 2] += q * dt
                at[2] += q * dt
            elif q < 0:
                acc[b + 3] -= q * dt
                at[3] -= q * dt
        self.t = ms

    def set_load(self, phase, mv, ma, p_mw, q_mvar, at_ms=None):
        """Load of phase 1..3 (L1..L3) from virtual ms at_ms (default: now) on. While the supply
        relay is open the load draws nothing (the voltage is measured on the line side)."""
        if not 1 <= phase <= 3:
            raise ValueError("phase must be 1..3")
        self.advance_to(self.now_ms_fn() if at_ms is None else at_ms)
        phase -= 1
        self.load[phase] = (ma, p_mw, q_mvar)
        self.mv[phase] = mv
        self._apply(phase)

    def set_supply(self, closed, at_ms=None):
        """The supply relay's contact (all phases) from virtual ms at_ms on: open = no current."""
        self.advance_to(self.now_ms_fn() if at_ms is None else at_ms)
        self.supply = bool(closed)
        for ph in range(3):
            self._apply(ph)

    def _apply(self, ph):
        ma, p, q = self.load[ph] if self.supply else (0, 0, 0)
        self.ma[ph] = ma
        self.p[ph] = p
        self.q[ph] = q

    def set_frequency(self, mhz):
        self.freq = mhz // 10

    def counts(self, phase, kind):
        """C(t) of phase 1..3, channel kind 0 imp, 1 exp, 2 R+, 3 R-, at the last integration."""
        return self.acc[(phase - 1) * 4 + kind] * self.n // (MWMS_PER_WH * self.d)

    def max_step_ms(self):
        """Longest time step from now (at the current loads) before a phase energy register, read
        at the start of the step, could wrap (65535 counts)."""
        worst = 0
        for ph in range(3):
            for v in (self.p[ph], self.q[ph]):
                if v < 0:
                    v = -v
                if v > worst:
                    worst = v
        if worst == 0:
            return 1 << 62
        return 65535 * MWMS_PER_WH * self.d // (self.n * worst)

    # --- chip registers --------------------------------------------------------------------------------
    def _noise(self, amp):
        if not self.noise or amp == 0:
            return 0
        x = self._rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rng = x
        return x % (2 * amp + 1) - amp

    def _power_regs(self, v_milli):
        raw = (v_milli * 256) // 1000 + self._noise(2)  # 1/256 unit
        hi = (raw >> 8) & 0xFFFF
        lo = (raw & 0xFF) << 8
        return hi, lo

    def _s_va(self, ph):
        return self.mv[ph] * self.ma[ph] // 1000000

    def reg_read(self, addr):
        self.reads += 1
        i = _E_INDEX.get(addr)
        if i is not None:
            c = self.acc[i] * self.n // self._scale
            v = c - self.read_c[i]
            self.read_c[i] = c
            if v > 0xFFFF:
                self.overflows += 1
            return v & 0xFFFF
        if addr in _E_TOTAL:
            k = _E_TOTAL[addr]
            c = self.acc_t[k] * self.n // (MWMS_PER_WH * self.d)
            v = c - self.read_ct[k]
            self.read_ct[k] = c
            if v > 0xFFFF:
                self.overflows += 1
            return v & 0xFFFF
        if 0xD9 <= addr <= 0xDB:
            return max(0, self.mv[addr - 0xD9] // 10 + self._noise(2)) & 0xFFFF
        if 0xDD <= addr <= 0xDF:
            return max(0, self.ma[addr - 0xDD] + self._noise(2)) & 0xFFFF
        if addr == 0xD8:
            a, b, c = self.ma
            return _isqrt(a * a + b * b + c * c - a * b - b * c - c * a) & 0xFFFF
        if 0xB1 <= addr <= 0xB3:
            return self._power_regs(self.p[addr - 0xB1])[0]
        if 0xC1 <= addr <= 0xC3:
            return self._power_regs(self.p[addr - 0xC1])[1]
        if 0xB5 <= addr <= 0xB7:
            return self._power_regs(self.q[addr - 0xB5])[0]
        if 0xC5 <= addr <= 0xC7:
            return self._power_regs(self.q[addr - 0xC5])[1]
        if 0xB9 <= addr <= 0xBB:
            return max(0, self._s_va(addr - 0xB9) + self._noise(2)) & 0xFFFF
        if 0xBD <= addr <= 0xBF:
            ph = addr - 0xBD
            s = self.mv[ph] * self.ma[ph] // 1000  # mVA
            if s <= 0:
                pf = 1000
            else:
                pf = abs(self.p[ph]) * 1000 // s
                pf = min(1000, max(0, pf + self._noise(1)))
                if self.p[ph] < 0:
                    pf = -pf
            return pf & 0xFFFF
        if addr == 0xF8:
            return (self.freq + self._noise(1)) & 0xFFFF
        if addr == LASTSPIDATA:
            return self.last_spi
        return self.regs.get(addr, 0)

    def reg_write(self, addr, value):
        if addr == SOFTRESET and value == 0x789A:
            self.regs = {}
            for i in range(12):
                self.read_c[i] = self.acc[i] * self.n // (MWMS_PER_WH * self.d)
            for k in range(4):
                self.read_ct[k] = self.acc_t[k] * self.n // (MWMS_PER_WH * self.d)
            return
        self.regs[addr] = value & 0xFFFF


class AfeSimSpi:
    """Fake SPI bus + chip select in front of an AfeSim, byte-stream accurate: CS low, 2 address
    bytes (bit 15 = read), 2 data bytes MSB first. Reads integrate the load model up to now_ms_fn()."""

    def __init__(self, sim):
        self.sim = sim
        self._sel = False
        self._pos = 0
        self._addr = 0
        self._out = 0
        self._in = 0
        self.transactions = 0

    def select(self, on):
        on = bool(on)
        if on and not self._sel:
            self._pos = 0
        if not on and self._sel:
            self.transactions += 1
        self._sel = on

    def _byte(self, b):
        if not self._sel:
            return 0xFF
        pos = self._pos
        self._pos += 1
        sim = self.sim
        if pos == 0:
            self._addr = b << 8
            return 0
        if pos == 1:
            self._addr |= b
            if self._addr & 0x8000:
                sim.advance_to(sim.now_ms_fn())
                v = sim.reg_read(self._addr & 0x3FF)
                if (self._addr & 0x3FF) != LASTSPIDATA:
                    sim.last_spi = v
                if sim.corrupt_reads > 0:
                    sim.corrupt_reads -= 1
                    sim.corrupted += 1
                    v ^= (0x0104 << (sim.corrupted % 7)) & 0xFFFF or 1
                self._out = v
            return 0
        if self._addr & 0x8000:
            if pos == 2:
                return (self._out >> 8) & 0xFF
            if pos == 3:
                return self._out & 0xFF
            return 0xFF
        if pos == 2:
            self._in = b << 8
        elif pos == 3:
            self._in |= b
            sim.advance_to(sim.now_ms_fn())
            sim.reg_write(self._addr & 0x3FF, self._in)
            sim.last_spi = self._in
        return 0

    def transfer(self, tx, rx):
        if self._sel and self._pos == 0 and len(tx) == 4:
            # whole frame at once (the driver's normal case): same effect as four _byte() calls
            self._pos = 4
            sim = self.sim
            addr = (tx[0] << 8) | tx[1]
            reg = addr & 0x3FF
            t = sim.now_ms_fn()
            if t != sim.t:
                sim.advance_to(t)
            rx[0] = 0
            rx[1] = 0
            if addr & 0x8000:
                if reg == LASTSPIDATA:
                    sim.reads += 1
                    v = sim.last_spi
                else:
                    v = sim.reg_read(reg)
                    sim.last_spi = v
                if sim.corrupt_reads > 0:
                    sim.corrupt_reads -= 1
                    sim.corrupted += 1
                    v ^= (0x0104 << (sim.corrupted % 7)) & 0xFFFF or 1
                rx[2] = (v >> 8) & 0xFF
                rx[3] = v & 0xFF
            else:
                v = (tx[2] << 8) | tx[3]
                sim.reg_write(reg, v)
                sim.last_spi = v
                rx[2] = 0
                rx[3] = 0
            return
        for i in range(len(tx)):
            rx[i] = self._byte(tx[i])

    def write(self, buf):
        for b in buf:
            self._byte(b)

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = self._byte(write)
