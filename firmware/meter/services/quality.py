# Power quality service: voltage sags and swells per phase, and the power failure counts.
#
# Wiring (the app):
#     q = Quality(registers, events, phases, config)   # after the metrology defined 1-0:32.7.0 ...
#     store.add(quality.SECTION, q.state_size, q.dump_into, q.load_from)
#     ... store.restore(now) ...
#     at boot after an outage:  q.power_up(now, down_t)   (down_t: last saved meter second or None)
#     every metering tick:      q.tick(now)                (after metrology.tick: reads the voltages)
#
# Registers (unit '', scaler 0; lifetime counts, persisted in the state journal, never decreasing,
# saturating at 2**30 - 1). The P1 builder sends a count from the register of the same OBIS code, so
# these are what 0-0:96.7.21, 0-0:96.7.9 and 1-0:32.32.0 ... 1-0:72.36.0 show:
#   0-0:96.7.21   power failures in any phase: every power-up after an outage (warned or not)
#   0-0:96.7.9    long power failures: those that lasted long_s (default 180 s, DSMR's 3 minutes)
#                 or more
#   1-0:32.32.0 / 52.32.0 / 72.32.0   voltage sags L1 / L2 / L3
#   1-0:32.36.0 / 52.36.0 / 72.36.0   voltage swells L1 / L2 / L3 (only the meter's phases)
#
# Long power failures are also logged as events.LONG_POWER_FAIL with t = the end of the failure
# (the power-up) and a = its duration in seconds: that is the DSMR power failure event log
# 1-0:99.97.0 ("time stamp (end of failure) - duration in seconds"). The start of the failure is
# the last time the meter saved its state: exact after a power-fail signal (the app saves on it),
# otherwise the duration includes at most one save interval before the cut. A board clock that did
# not survive the outage is restored to the saved time (meter.clock), so the duration is 0 and the
# failure counts as a short one: the meter cannot know how long it was.
#
# Sags and swells: the voltage registers (0.1 V) are compared, every tick, with
#   sag:   V < nominal * (100 - sag_pct) / 100     (default 230 V - 10 % = 207.0 V)
#   swell: V > nominal * (100 + swell_pct) / 100   (default 230 V + 10 % = 253.0 V)
# An excursion counts once, when it has lasted min_s seconds (default 30 s, a configurable time
# threshold as DSMR meters have) as seen by two ticks at least min_s apart; it ends when the voltage
# is back inside the limits by the hysteresis (default 2 % of nominal). A counted excursion is
# logged as VOLTAGE_SAG / VOLTAGE_SWELL with t = detection time, a = phase (1..3), b = the lowest /
# highest voltage seen so far (0.1 V). A voltage below fail_pct of nominal (default 50 %) is a lost
# phase (not connected, or a failure of that phase): it is not a sag and ends any excursion.
#
# config (dict, all optional): nominal (0.1 V, default 2300), sag_pct (10), swell_pct (10),
# hysteresis (0.1 V, default 2 % of nominal), min_s (30), fail_pct (50), long_s (180),
# log_events (True: log sag/swell events in the event log; the counts are kept either way).
#
# No allocation per tick: preallocated arrays, slots resolved at construction.
import struct
from array import array

from meter.common import events as ev

SECTION = 0x5051  # "PQ"
MAXC = 0x3FFFFFFF

C_PF = 0
C_LPF = 1
C_SAG = 2  # + phase index
C_SWELL = 5  # + phase index
NC = 8

PF_OBIS = ("0-0:96.7.21", "0-0:96.7.9")
SAG_OBIS = ("1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0")
SWELL_OBIS = ("1-0:32.36.0", "1-0:52.36.0", "1-0:72.36.0")
V_OBIS = ("1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0")

_KEYS = ("nominal", "sag_pct", "swell_pct", "hysteresis", "min_s", "fail_pct", "long_s", "log_events")

# excursion states
NORMAL = 0
SAG = 1
SWELL = 2


def _int(cfg, k, default, lo, hi):
    v = cfg.get(k, default)
    if type(v) is not int or not lo <= v <= hi:
        raise ValueError("quality: %s must be an int %d..%d" % (k, lo, hi))
    return v


class Quality:
    state_size = 4 * NC

    def __init__(self, registers, events, phases=3, config=None):
        cfg = config or {}
        for k in cfg:
            if k not in _KEYS:
                raise ValueError("quality: unknown config key %r" % (k,))
        nom = _int(cfg, "nominal", 2300, 100, 100000)
        sag = _int(cfg, "sag_pct", 10, 1, 90)
        swell = _int(cfg, "swell_pct", 10, 1, 100)
        self.hyst = _int(cfg, "hysteresis", nom * 2 // 100, 0, nom // 2)
        self.min_s = _int(cfg, "min_s", 30, 0, 86400)
        fail = _int(cfg, "fail_pct", 50, 0, 100 - sag)
        self.long_s = _int(cfg, "long_s", 180, 1, 0x3FFFFFFF)
        self.log_events = bool(cfg.get("log_events", True))
        self.sag_v = nom * (100 - sag) // 100
        self.swell_v = nom * (100 + swell) // 100
        self.fail_v = nom * fail // 100
        self.regs = registers
        self.events = events
        if phases not in (1, 2, 3):
            raise ValueError("quality: phases must be 1..3")
        self.nph = phases
        d = registers.define
        self._slot = array("h", [-1] * NC)
        self._slot[C_PF] = d(PF_OBIS[0], "", 0)
        self._slot[C_LPF] = d(PF_OBIS[1], "", 0)
        self._v = array("h", [-1] * 3)
        for p in range(phases):
            self._slot[C_SAG + p] = d(SAG_OBIS[p], "", 0)
            self._slot[C_SWELL + p] = d(SWELL_OBIS[p], "", 0)
            if registers.has(V_OBIS[p]):
                self._v[p] = registers.slot(V_OBIS[p])
        self._state = array("b", [NORMAL] * 3)
        self._start = array("i", [0] * 3)
        self._ext = array("i", [0] * 3)
        self._counted = array("b", [0] * 3)

    # ------------------------------------------------------------------ counts
    def count(self, which):
        s = self._slot[which]
        return self.regs.values[s] if s >= 0 else 0

    def _inc(self, which):
        s = self._slot[which]
        if s < 0:
            return
        vals = self.regs.values
        if vals[s] < MAXC:
            vals[s] += 1

    # ------------------------------------------------------------------ power failures
    def power_up(self, now, down_t):
        """The meter powered up at `now` after an outage that began at `down_t` (meter seconds;
        None if unknown). Counts it; returns the duration if it was a long one (and logs it),
        else 0."""
        self._inc(C_PF)
        if down_t is None or now - down_t < self.long_s:
            return 0
        d = now - down_t
        if d > MAXC:
            d = MAXC
        self._inc(C_LPF)
        if self.events is not None:
            self.events.add(now, ev.LONG_POWER_FAIL, d)
        return d

    # ------------------------------------------------------------------ sags and swells
    def tick(self, now):
        vals = self.regs.values
        for p in range(self.nph):
            s = self._v[p]
            if s < 0:
                continue
            v = vals[s]
            st = self._state[p]
            if v < self.fail_v:
                self._state[p] = NORMAL  # lost phase: no sag
                continue
            if st == NORMAL:
                if v < self.sag_v:
                    st = SAG
                elif v > self.swell_v:
                    st = SWELL
                else:
                    continue
                self._state[p] = st
                self._start[p] = now
                self._ext[p] = v
                self._counted[p] = 0
            elif st == SAG:
                if v >= self.sag_v + self.hyst or v > self.swell_v:
                    self._state[p] = NORMAL
                    if v > self.swell_v:  # straight from a sag into a swell
                        self._state[p] = SWELL
                        self._start[p] = now
                        self._ext[p] = v
                        self._counted[p] = 0
                    continue
                if v < self._ext[p]:
                    self._ext[p] = v
            else:
                if v <= self.swell_v - self.hyst or v < self.sag_v:
                    self._state[p] = NORMAL
                    if v < self.sag_v:
                        self._state[p] = SAG
                        self._start[p] = now
                        self._ext[p] = v
                        self._counted[p] = 0
                    continue
                if v > self._ext[p]:
                    self._ext[p] = v
            st = self._state[p]
            if not self._counted[p] and now - self._start[p] >= self.min_s:
                self._counted[p] = 1
                sag = st == SAG
                self._inc((C_SAG if sag else C_SWELL) + p)
                if self.log_events and self.events is not None:
                    self.events.add(now, ev.VOLTAGE_SAG if sag else ev.VOLTAGE_SWELL, p + 1, self._ext[p])

    def state(self, phase):
        """(state NORMAL/SAG/SWELL, start, extreme 0.1 V, counted) of phase 1..3 (diagnostics)."""
        p = phase - 1
        return self._state[p], self._start[p], self._ext[p], self._counted[p]

    # ------------------------------------------------------------------ persistence
    def dump_into(self, buf):
        vals = self.regs.values
        for i in range(NC):
            s = self._slot[i]
            struct.pack_into("<I", buf, 4 * i, vals[s] if s >= 0 else 0)

    def load_from(self, buf):
        """Restore the counts; False (nothing changed) if any is out of range."""
        if len(buf) < self.state_size:
            return False
        got = struct.unpack_from("<8I", buf, 0)
        for c in got:
            if c > MAXC:
                return False
        vals = self.regs.values
        for i in range(NC):
            s = self._slot[i]
            if s >= 0:
                vals[s] = got[i]
        return True
