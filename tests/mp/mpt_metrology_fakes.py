# Test doubles and slow reference computations shared by the metrology / profile / demand / billing
# tests (no test functions here). Tariff stand-ins live in the tests, never in firmware.
from array import array

from meter.drivers import afe as A


class Rng:
    """Deterministic LCG (same sequence on both interpreters)."""

    def __init__(self, seed=12345):
        self.x = seed & 0x7FFFFFFF

    def next(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x >> 8

    def below(self, n):
        if n > (1 << 22):
            return ((self.next() << 23) | self.next()) % n
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]


class ScriptDriver:
    """AFE driver double: read_energy() returns the counts put in `next` (then clears them)."""
    name = "script"
    max_delta = 0xFFFF
    errors = 0

    def __init__(self, phases=3, has_reactive=True, n=11, d=1, nr=None, dr=None):
        self.phases = phases
        self.has_reactive = has_reactive
        self.counts_per_wh, self.counts_per_wh_den = n, d
        self.counts_per_varh = n if nr is None else nr
        self.counts_per_varh_den = d if dr is None else dr
        self.next = array("l", [0] * A.NCH)
        self.inst = array("l", [0] * A.NINST)
        self.ok = True

    def read_energy(self, out):
        nx = self.next
        for i in range(A.NCH):
            out[i] = nx[i]
            nx[i] = 0
        return self.ok

    def read_instant(self, out):
        src = self.inst
        for i in range(A.NINST):
            out[i] = src[i]
        return True


class ConstDriver(ScriptDriver):
    """Same counts on every read (allocation-free, for the heap test)."""

    def read_energy(self, out):
        nx = self.next
        for i in range(A.NCH):
            out[i] = nx[i]
        return True


class SingleRate:
    def split(self, t0, t1, amount, out):
        out[0] += amount

    def rate_at(self, t):
        return 1


class SwitchTariff:
    """Rate changes every `period` s through rates 1..nrates; exact split proportional to time
    (sequential remainder), records what it handed out per rate."""

    def __init__(self, period=37, nrates=8):
        self.period = period
        self.nrates = nrates
        self.given = [0] * 8

    def rate_at(self, t):
        return (t // self.period) % self.nrates + 1

    def split(self, t0, t1, amount, out):
        t = t0
        rest = amount
        while t < t1:
            e = (t // self.period + 1) * self.period
            if e > t1:
                e = t1
            part = rest * (e - t) // (t1 - t)
            r = self.rate_at(t) - 1
            out[r] += part
            self.given[r] += part
            rest -= part
            t = e

    def credit_zero_length(self, t, amount):
        self.given[self.rate_at(t) - 1] += amount


class BadTariff(SwitchTariff):
    def split(self, t0, t1, amount, out):
        out[0] += amount + 1  # wrong on purpose


class Probe:
    """Boundary consumer: records the value of the given register slots at each boundary."""

    def __init__(self, registers, codes, period, start=0):
        self.regs = registers
        self.slots = [registers.slot(c) for c in codes]
        self.period = period
        self.next_boundary = (start // period + 1) * period
        self.seen = []
        self.imp = 0
        self.exp = 0
        self.adjusted = []

    def boundary(self, b):
        self.seen.append((b, [self.regs.values[s] for s in self.slots]))
        self.next_boundary = b + self.period

    def energy(self, imp, exp):
        self.imp += imp
        self.exp += exp

    def clock_adjusted(self, old, new):
        self.adjusted.append((old, new))
        self.next_boundary = (new // self.period + 1) * self.period


def split_ref(counts, t0, t1, bounds):
    """Reference for the metrology's cut of one tick's counts at interior/end boundaries:
    returns the list of pieces [(ta, tb, count)], computed recursively (first piece, then the rest)."""
    if not bounds or t1 <= t0:
        return [(t0, t1, counts)]
    b = bounds[0]
    if b >= t1:
        return [(t0, t1, counts)]
    first = counts * (b - t0) // (t1 - t0)
    return [(t0, b, first)] + split_ref(counts - first, b, t1, bounds[1:])
