# Metrology service: AFE counts -> exact energy registers, instantaneous values, and the time base
# that load profile, demand and billing hang on.
#
# Wiring (the app does this once):
#     m = Metrology(registers, afe_driver, tariff, events, config)
#     m.attach(demand); m.attach(profile); m.attach(billing)   # boundary consumers, in this order
#     store.add(metrology.SECTION, m.state_size, m.dump_into, m.load_from)
#     ... store.restore(now) ...
#     m.start(now)            # after restore, before the first tick (handles the outage gap)
#     every second:  m.tick(now)          (now = meter seconds from the board clock)
#     clock set:     m.tick(old); m.clock_adjusted(old, new)
#     power fail:    m.power_fail(now)    (then save the state store)
#     save policy:   m.wh_since_save (Wh counted since the app last reset it to 0)
#
# Energy accounting. Each energy register has an accumulator: the register value holds whole Wh (or
# varh) and `rem` the exact remainder in units of 1/N Wh, where counts_per_wh = N / D comes from the
# AFE calibration. Adding c counts: rem += c * D; wh += rem // N; rem %= N. All values stay small ints
# (|v| < 2**30) on 32-bit ports: registers roll over at ROLLOVER = 10**9 Wh (999 999.999 kWh).
# Exactness: for every accumulator, wh * N + rem == D * (counts ever added) (mod ROLLOVER * N).
#   1-0:1.8.0 / 2.8.0   import / export total = sum of the per-phase counts
#   1-0:21.8.0 ...      per phase (3-phase drivers, or config per_phase_energy=True)
#   1-0:1.8.r / 2.8.r   per tariff rate r = 1..8: the tick's total counts are split over the rates by
#                       tariff.split(t0, t1, counts, out); so sum over r of (wh_r * N + rem_r) equals
#                       the total's wh * N + rem exactly, always (checked, see _split).
#   1-0:5.8.0 .. 8.8.0  reactive Q1..Q4 (all phases) if the AFE gives reactive energy: per read and
#                       phase, R+ counts go to Q1 if the phase's active import counts of that read are
#                       >= its export counts, else to Q2; R- counts to Q4, else Q3.
#
# Time. tick(now) attributes the counts read since the previous tick to [prev, now]. Consumers
# (demand, profile, billing) each expose `next_boundary` (meter seconds) and `boundary(b)`; a tick
# whose interval contains boundaries is cut there: the counts of each channel are split in
# proportion to time, exactly (part = rest * (b - t) // (now - t), the last part takes the rest), the
# registers are brought to their value at b, then the consumers due at b are called in attach order
# (demand before billing, so the billing snapshot includes the last demand period). Consumers that
# also want the energy itself implement energy(imp_counts, exp_counts), called for every piece.
# A tick with now <= prev (first tick, clock not advancing) attributes the counts at `now`; a clock
# that went back without clock_adjusted() is treated as one.
#
# config (dict, all optional): 'rates' 1..8 (default 8; rates above it are booked on the last one),
# 'per_phase_energy' (default: True for multi-phase AFEs), 'reactive' (default True when the AFE has
# reactive energy), 'instant' (read instantaneous values every tick, default True).
#
# Readers: registers by OBIS (obis_energy.py lists codes, units, scalers); exact values with
# energy(obis) -> (wh, rem, N, D): value = wh + rem / N Wh.
#
# No heap allocation per tick (with an allocation-free AFE driver and tariff): preallocated arrays,
# register slots resolved at construction, no floats, no divmod, no big ints for 1-second ticks.
import struct
from array import array

from meter.drivers import afe as A
from meter.common import obis_energy as O
from meter.common import events as ev

SECTION = 0x4D45  # StateStore section id ("ME")
ROLLOVER = 1000000000
NRATES = 8
_MAGIC = 0x4D31

# working channels of one tick
W_IMP = 0  # +phase: per-phase import counts
W_EXP = 3  # +phase
W_Q = 6  # Q1..Q4
NW = 10


class Metrology:
    def __init__(self, registers, afe_driver, tariff, events, config=None):
        cfg = config or {}
        self.regs = registers
        self.afe = afe_driver
        self.tariff = tariff
        self.events = events
        self.nph = afe_driver.phases
        self.nrates = cfg.get("rates", NRATES)
        if not 1 <= self.nrates <= NRATES:
            raise ValueError("rates must be 1..8")
        self.has_q = bool(afe_driver.has_reactive) and cfg.get("reactive", True)
        self.per_phase = cfg.get("per_phase_energy", self.nph > 1)
        self.read_instant = cfg.get("instant", True)
        na, da = afe_driver.counts_per_wh, getattr(afe_driver, "counts_per_wh_den", 1)
        nr, dr = getattr(afe_driver, "counts_per_varh", na), getattr(afe_driver, "counts_per_varh_den", 1)
        self.cal = (na, da, nr, dr)

        # --- accumulators: fixed index layout ---
        obis = [O.IMP_TOTAL, O.EXP_TOTAL]
        kinds = [0, 0]
        self.A_IMP_R = len(obis)
        for r in range(1, self.nrates + 1):
            obis.append(O.imp_rate(r))
            kinds.append(0)
        self.A_EXP_R = len(obis)
        for r in range(1, self.nrates + 1):
            obis.append(O.exp_rate(r))
            kinds.append(0)
        self.A_IMP_L = len(obis)
        if self.per_phase:
            for ph in range(self.nph):
                obis.append(O.imp_phase(ph))
                kinds.append(0)
            self.A_EXP_L = len(obis)
            for ph in range(self.nph):
                obis.append(O.exp_phase(ph))
                kinds.append(0)
        else:
            self.A_EXP_L = len(obis)
        self.A_Q = len(obis)
        if self.has_q:
            for code in O.Q_TOTALS:
                obis.append(code)
                kinds.append(1)
        self.nacc = len(obis)
        self.acc_obis = tuple(obis)
        self._slot = array("H", [0] * self.nacc)
        self._num = array("l", [0] * self.nacc)
        self._den = array("l", [0] * self.nacc)
        self._rem = array("l", [0] * self.nacc)
        self._ids = array("H", [0] * self.nacc)
        for i in range(self.nacc):
            unit = O.VARH if kinds[i] else O.WH
            self._slot[i] = registers.define(obis[i], unit[0], unit[1])
            self._num[i] = nr if kinds[i] else na
            self._den[i] = dr if kinds[i] else da
            self._ids[i] = O.obis_id(obis[i])
        self._vals = registers.values
        self.state_size = 20 + 12 * self.nacc

        # --- instantaneous register slots ---
        nph = self.nph
        d = registers.define

        def ph_slots(off, unit):
            return array("H", [d(O.phase_inst(off, p), unit[0], unit[1]) for p in range(nph)])

        self._s_v = ph_slots(O.PH_V, O.DV)
        self._s_i = ph_slots(O.PH_I, O.MA)
        self._s_pi = ph_slots(O.PH_P_IMP, O.W)
        self._s_pe = ph_slots(O.PH_P_EXP, O.W)
        self._s_qp = ph_slots(O.PH_Q_POS, O.VAR)
        self._s_qn = ph_slots(O.PH_Q_NEG, O.VAR)
        self._s_s = ph_slots(O.PH_S, O.VA)
        self._s_pf = ph_slots(O.PH_PF, O.PF)
        self._s_tot = array("H", [d(O.P_IMP, *O.W), d(O.P_EXP, *O.W), d(O.Q_POS, *O.VAR),
                                  d(O.Q_NEG, *O.VAR), d(O.S_TOTAL, *O.VA), d(O.PF_TOTAL, *O.PF),
                                  d(O.FREQ, *O.MHZ), d(O.I_NEUTRAL, *O.MA)])

        # --- per-tick scratch ---
        self._e = A.energy_buf()
        self._inst = A.instant_buf()
        self._w = array("l", [0] * NW)
        self._r = array("l", [0] * NW)
        self._p = array("l", [0] * NW)
        self._rs = array("l", [0] * NRATES)
        self._prev = -1  # meter seconds of the previous tick, -1 before start()/first tick
        self._consumers = []
        self._elisteners = []
        self._next_b = 0x3FFFFFFF
        self.wh_since_save = 0
        self.ticks = 0
        self.afe_errors = 0
        self.tariff_errors = 0
        self._afe_ok = True

    # ------------------------------------------------------------------------------------------------
    def attach(self, consumer):
        """Add a boundary consumer (next_boundary, boundary(b), optional energy(imp, exp),
        resume(now), clock_adjusted(old, new), mark_power_fail(t))."""
        self._consumers.append(consumer)
        if hasattr(consumer, "energy"):
            self._elisteners.append(consumer)
        self._recompute_next()

    def _recompute_next(self, after=-1):
        nb = 0x3FFFFFFF
        for c in self._consumers:
            b = c.next_boundary
            if after < b < nb:
                nb = b
        self._next_b = nb

    def start(self, now):
        """Begin metering at `now` (after the state was restored): consumers close what the outage
        left open. Counts the AFE accumulated before this are attributed at the first tick."""
        self._prev = now
        for c in self._consumers:
            if hasattr(c, "resume"):
                c.resume(now)
        self._recompute_next()

    def clock_adjusted(self, old, new):
        """The clock was set from `old` to `new` (call tick(old) first)."""
        self._prev = new
        for c in self._consumers:
            if hasattr(c, "clock_adjusted"):
                c.clock_adjusted(old, new)
        self._recompute_next()

    def power_fail(self, now):
        """Power-fail signal: bring the registers up to `now` and flag the consumers."""
        self.tick(now)
        for c in self._consumers:
            if hasattr(c, "mark_power_fail"):
                c.mark_power_fail(now)

    # ------------------------------------------------------------------------------------------------
    def _acc(self, i, c):
        r = self._rem[i] + c * self._den[i]
        n = self._num[i]
        if r >= n:
            q = r // n
            r -= q * n
            vals = self._vals
            s = self._slot[i]
            v = vals[s] + q
            if v >= ROLLOVER:
                v -= ROLLOVER
            vals[s] = v
            if i < 2:
                self.wh_since_save += q
        self._rem[i] = r

    def _split(self, ta, tb, amount, base):
        out = self._rs
        for k in range(NRATES):
            out[k] = 0
        tariff = self.tariff
        if tb > ta:
            tariff.split(ta, tb, amount, out)
            s = 0
            bad = False
            for k in range(NRATES):
                c = out[k]
                if c < 0:
                    bad = True
                s += c
            if bad or s != amount:
                # never let a faulty split break sum(rates) == total: book it all at the end rate
                self.tariff_errors += 1
                for k in range(NRATES):
                    out[k] = 0
                out[tariff.rate_at(tb) - 1] = amount
        else:
            out[tariff.rate_at(tb) - 1] = amount
        last = self.nrates - 1
        for k in range(NRATES):
            c = out[k]
            if c:
                self._acc(base + (k if k < last else last), c)

    def _apply(self, part, ta, tb):
        imp = 0
        exp = 0
        pp = self.per_phase
        for ph in range(self.nph):
            c = part[W_IMP + ph]
            if c:
                imp += c
                if pp:
                    self._acc(self.A_IMP_L + ph, c)
            c = part[W_EXP + ph]
            if c:
                exp += c
                if pp:
                    self._acc(self.A_EXP_L + ph, c)
        if imp:
            self._acc(0, imp)
            self._split(ta, tb, imp, self.A_IMP_R)
        if exp:
            self._acc(1, exp)
            self._split(ta, tb, exp, self.A_EXP_R)
        if self.has_q:
            aq = self.A_Q
            for q in range(4):
                c = part[W_Q + q]
                if c:
                    self._acc(aq + q, c)
        for l in self._elisteners:
            l.energy(imp, exp)

    def _fire(self, b):
        for c in self._consumers:
            if c.next_boundary <= b:
                c.boundary(b)
        # a consumer that did not move its boundary past b is not called again in this tick
        self._recompute_next(b)

    def tick(self, now):
        afe = self.afe
        e = self._e
        ok = afe.read_energy(e)
        if not ok:
            self.afe_errors += 1
            if self._afe_ok and self.events is not None:
                self.events.add(now, ev.AFE_ERROR, getattr(afe, "errors", 0), 0)
        self._afe_ok = ok
        w = self._w
        qp = self.has_q
        q1 = q2 = q3 = q4 = 0
        for ph in range(A.NPH):
            b = ph * A.EK
            ci = e[b + A.E_IMP]
            ce = e[b + A.E_EXP]
            if ph < self.nph:
                w[W_IMP + ph] = ci
                w[W_EXP + ph] = ce
            else:
                w[W_IMP + ph] = 0
                w[W_EXP + ph] = 0
            if qp:
                if ci >= ce:
                    q1 += e[b + A.E_QPOS]
                    q4 += e[b + A.E_QNEG]
                else:
                    q2 += e[b + A.E_QPOS]
                    q3 += e[b + A.E_QNEG]
        w[W_Q] = q1
        w[W_Q + 1] = q2
        w[W_Q + 2] = q3
        w[W_Q + 3] = q4
        if self.read_instant:
            if afe.read_instant(self._inst):
                self._update_instant()
        self._advance(now)
        self.ticks += 1

    def _advance(self, now):
        t = self._prev
        w = self._w
        if t < 0 or now <= t:
            if t >= 0 and now < t:
                self.clock_adjusted(t, now)
            self._apply(w, now, now)
            self._prev = now
            if self._next_b <= now:
                self._fire(now)
            return
        r = self._r
        p = self._p
        for i in range(NW):
            r[i] = w[i]
        while True:
            b = self._next_b
            if b > now:
                break
            if b <= t:
                self._fire(b)
                continue
            if b == now:
                self._apply(r, t, b)
                for i in range(NW):
                    r[i] = 0
            else:
                num = b - t
                den = now - t
                for i in range(NW):
                    x = r[i]
                    if x:
                        y = x * num // den
                        p[i] = y
                        r[i] = x - y
                    else:
                        p[i] = 0
                self._apply(p, t, b)
            t = b
            self._fire(b)
        if t < now:
            self._apply(r, t, now)
        self._prev = now

    def _update_instant(self):
        inst = self._inst
        vals = self._vals
        ptot = 0
        qtot = 0
        stot = 0
        for ph in range(self.nph):
            b = ph * A.IK
            vals[self._s_v[ph]] = inst[b + A.I_V]
            vals[self._s_i[ph]] = inst[b + A.I_I]
            x = inst[b + A.I_P]
            ptot += x
            vals[self._s_pi[ph]] = x if x > 0 else 0
            vals[self._s_pe[ph]] = -x if x < 0 else 0
            x = inst[b + A.I_Q]
            qtot += x
            vals[self._s_qp[ph]] = x if x > 0 else 0
            vals[self._s_qn[ph]] = -x if x < 0 else 0
            x = inst[b + A.I_S]
            stot += x
            vals[self._s_s[ph]] = x
            vals[self._s_pf[ph]] = inst[b + A.I_PF]
        st = self._s_tot
        vals[st[0]] = ptot if ptot > 0 else 0
        vals[st[1]] = -ptot if ptot < 0 else 0
        vals[st[2]] = qtot if qtot > 0 else 0
        vals[st[3]] = -qtot if qtot < 0 else 0
        vals[st[4]] = stot
        if stot > 0:
            pf = (ptot if ptot >= 0 else -ptot) * 1000 // stot
            if pf > 1000:
                pf = 1000
            vals[st[5]] = pf if ptot >= 0 else -pf
        else:
            vals[st[5]] = 1000
        vals[st[6]] = inst[A.I_FREQ]
        x = inst[A.I_IN]
        vals[st[7]] = x if x > 0 else 0

    # --- exact state for readers and persistence ------------------------------------------------------
    def energy(self, obis):
        """(wh, rem, N, D) of an energy register: exact value = wh + rem / N Wh (D: counts scale)."""
        i = self.acc_obis.index(obis)
        return self._vals[self._slot[i]], self._rem[i], self._num[i], self._den[i]

    def dump_into(self, buf):
        na, da, nr, dr = self.cal
        struct.pack_into("<HHIIII", buf, 0, _MAGIC, self.nacc, na, da, nr, dr)
        off = 20
        vals = self._vals
        for i in range(self.nacc):
            struct.pack_into("<HHii", buf, off, self._ids[i], 0, vals[self._slot[i]], self._rem[i])
            off += 12

    def load_from(self, buf):
        """Restore the energy state. Everything is checked before anything is applied: returns False
        (and changes nothing) if the data is inconsistent; True if all accumulators were restored.
        Accumulators this firmware does not have are ignored, missing ones stay 0 (returns False).
        If the AFE constants changed since the dump, the Wh are kept, the sub-Wh remainders are
        dropped (< 1 Wh per register) and CALIBRATION_CHANGED is logged."""
        if len(buf) < 20:
            return False
        magic, n, na, da, nr, dr = struct.unpack_from("<HHIIII", buf, 0)
        if magic != _MAGIC or 20 + 12 * n > len(buf):
            return False
        same_cal = (na, da, nr, dr) == self.cal
        ids = list(self._ids)
        todo = []
        for k in range(n):
            idv, _, wh, rem = struct.unpack_from("<HHii", buf, 20 + 12 * k)
            if idv not in ids:
                continue
            i = ids.index(idv)
            if not 0 <= wh < ROLLOVER:
                return False
            if same_cal:
                if not 0 <= rem < self._num[i]:
                    return False
            else:
                rem = 0
            todo.append((i, wh, rem))
        vals = self._vals
        seen = set()
        for i, wh, rem in todo:
            vals[self._slot[i]] = wh
            self._rem[i] = rem
            seen.add(i)
        if not same_cal and self.events is not None:
            self.events.add(self._prev if self._prev > 0 else 0, ev.CALIBRATION_CHANGED, na, self.cal[0])
        return same_cal and len(seen) == self.nacc
