# Demand: block or sliding average active power over the demand period, with the monthly maximum.
#
# Wiring:
#     dm = Demand(registers, metrology, config)     # metrology gives the exact counts -> Wh constant
#     metrology.attach(dm)                          # FIRST consumer (before profile and billing)
#     store.add(demand.SECTION, dm.state_size, dm.dump_into, dm.load_from)
#     billing calls dm.reset_max() at the billing boundary.
#
# config: 'demand_period' seconds (default 900, must divide 3600), 'demand_subperiods' (default 1 =
# block demand; n > 1 = sliding demand over the last n subperiods of period/n seconds, evaluated at
# every subperiod end). The metrology feeds energy(imp_counts, exp_counts) for every piece of every
# tick and calls boundary(b) at subperiod ends, exactly (long ticks are cut there).
#
# Demand in W over a window = counts_in_window * D * (3600 / period) // N, exact floor, where
# counts_per_wh = N / D. Registers (W, kW scaler -3):
#   1-0:1.4.0 / 2.4.0  current average demand (import / export): energy of the running window so far
#                      (the completed subperiods of the window plus the running one) over the period
#   1-0:1.5.0 / 2.5.0  last average demand (the last completed window)
#   1-0:1.6.0 / 2.6.0  maximum demand since the last billing reset; its time (end of the window) is
#                      max_time[0] / max_time[1] (meter seconds), see max_demand()
# After an outage or a clock adjustment that leaves the running subperiod, the subperiod is closed
# with what it has and the sliding window restarts (a short subperiod can only under-state demand).
import struct
from array import array

from meter.common.arith import muldiv

SECTION = 0x444D  # "DM"
NEVER = 0x3FFFFFFF
MAXSUB = 15


class Demand:
    def __init__(self, registers, metrology, config=None):
        cfg = config or {}
        period = cfg.get("demand_period", 900)
        nsub = cfg.get("demand_subperiods", 1)
        if period < 60 or 3600 % period or not 1 <= nsub <= MAXSUB or period % nsub:
            raise ValueError("demand period must divide 3600 and be a multiple of the subperiods")
        self.period = period
        self.nsub = nsub
        self.sub = period // nsub
        self.k = 3600 // period
        self.num = metrology.cal[0]
        self.den = metrology.cal[1]
        d = registers.define
        self.s_cur = (d("1-0:1.4.0", "kW", -3), d("1-0:2.4.0", "kW", -3))
        self.s_last = (d("1-0:1.5.0", "kW", -3), d("1-0:2.5.0", "kW", -3))
        self.s_max = (d("1-0:1.6.0", "kW", -3), d("1-0:2.6.0", "kW", -3))
        self.regs = registers
        self.win = (array("l", [0] * nsub), array("l", [0] * nsub))  # completed subperiods, by ring
        self.wpos = 0  # ring position of the oldest completed subperiod
        self.filled = 0
        self.cur = array("l", [0, 0])  # counts of the running subperiod
        self.part = array("l", [0, 0])  # sum of the newest nsub - 1 completed subperiods
        self.max_time = array("l", [0, 0])
        self.next_boundary = NEVER
        self.state_size = 24 + 8 * nsub + 8 + 16

    def watts(self, counts):
        return muldiv(counts * self.den, self.k, self.num)

    def _align(self, t):
        s = self.sub
        return (t // s + 1) * s

    # --- metrology hooks -------------------------------------------------------------------------------
    def energy(self, imp, exp):
        cur = self.cur
        vals = self.regs.values
        if imp:
            cur[0] += imp
            vals[self.s_cur[0]] = self.watts(self.part[0] + cur[0])
        if exp:
            cur[1] += exp
            vals[self.s_cur[1]] = self.watts(self.part[1] + cur[1])

    def boundary(self, b):
        self._close(b)
        self.next_boundary = b + self.sub

    def _close(self, b):
        vals = self.regs.values
        n = self.nsub
        for ch in range(2):
            w = self.win[ch]
            c = self.cur[ch]
            if n > 1:
                # window = the newest n - 1 completed subperiods (part) + this one; push this one
                # over the oldest, and the new part is the window minus the (new) oldest entry
                # (entries not filled since the last restart are 0)
                total = self.part[ch] + c
                w[self.wpos] = c
                self.part[ch] = total - w[(self.wpos + 1) % n]
            else:
                total = c
            dmd = self.watts(total)
            vals[self.s_last[ch]] = dmd
            if dmd > vals[self.s_max[ch]]:
                vals[self.s_max[ch]] = dmd
                self.max_time[ch] = b
            self.cur[ch] = 0
            vals[self.s_cur[ch]] = self.watts(self.part[ch])
        if n > 1:
            self.wpos = (self.wpos + 1) % n
            if self.filled < n:
                self.filled += 1

    def _restart(self, now):
        for ch in range(2):
            w = self.win[ch]
            for i in range(self.nsub):
                w[i] = 0
            self.part[ch] = 0
            self.cur[ch] = 0
            self.regs.values[self.s_cur[ch]] = 0
        self.wpos = 0
        self.filled = 0
        self.next_boundary = self._align(now)

    def resume(self, now):
        if self.next_boundary == NEVER:
            self._restart(now)
        elif now >= self.next_boundary:
            self._close(self.next_boundary)
            self._restart(now)

    def clock_adjusted(self, old, new):
        nb = self.next_boundary
        if nb == NEVER:
            return self._restart(new)
        if new >= nb or new < nb - self.sub:
            self._close(nb if new >= nb else old)
            self._restart(new)

    def reset_max(self):
        vals = self.regs.values
        for ch in range(2):
            vals[self.s_max[ch]] = 0
            self.max_time[ch] = 0

    def max_demand(self, ch=0):
        """(W, meter seconds) of the maximum demand since the last reset; ch 0 import, 1 export."""
        return self.regs.values[self.s_max[ch]], self.max_time[ch]

    # --- persistence -----------------------------------------------------------------------------------
    def dump_into(self, buf):
        vals = self.regs.values
        struct.pack_into("<iHHiiii", buf, 0, self.next_boundary, self.wpos, self.filled,
                         self.cur[0], self.cur[1], self.part[0], self.part[1])
        off = 24
        for ch in range(2):
            w = self.win[ch]
            for i in range(self.nsub):
                struct.pack_into("<i", buf, off, w[i])
                off += 4
        struct.pack_into("<ii", buf, off, self.nsub, self.period)
        off += 8
        struct.pack_into("<iiii", buf, off, vals[self.s_max[0]], self.max_time[0], vals[self.s_max[1]],
                         self.max_time[1])

    def load_from(self, buf):
        """Restore; checks everything before changing anything (False: nothing changed)."""
        off = 24 + 8 * self.nsub
        if len(buf) < off + 24:
            return False
        nsub, period = struct.unpack_from("<ii", buf, off)
        mi, ti, me, te = struct.unpack_from("<iiii", buf, off + 8)
        if mi < 0 or me < 0:
            return False
        same = nsub == self.nsub and period == self.period
        if same:
            nb, wpos, filled, c0, c1, p0, p1 = struct.unpack_from("<iHHiiii", buf, 0)
            if wpos >= self.nsub or filled > self.nsub or min(c0, c1, p0, p1) < 0:
                return False
        vals = self.regs.values
        vals[self.s_max[0]], self.max_time[0], vals[self.s_max[1]], self.max_time[1] = mi, ti, me, te
        if not same:
            return True  # configuration changed: keep the maxima, restart the window at resume()
        self.next_boundary, self.wpos, self.filled = nb, wpos, filled
        self.cur[0], self.cur[1], self.part[0], self.part[1] = c0, c1, p0, p1
        o = 24
        for ch in range(2):
            w = self.win[ch]
            for i in range(self.nsub):
                w[i] = struct.unpack_from("<i", buf, o)[0]
                o += 4
        return True
