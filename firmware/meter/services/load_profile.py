# Load profile: interval records of the cumulative energy registers (DLMS "load profile 1" style).
#
# Wiring:
#     lp = LoadProfile(registers, ring, config, tz=clock.tz)  # ring: storage.RingStore(..., RECORD, tag)
#     metrology.attach(lp)                           # after the demand, before the billing
#     store.add(profile.SECTION, lp.state_size, lp.dump_into, lp.load_from)
#     lp.open()                                      # at boot, scans the ring (logs corruption)
#     app: lp.flush() after ticks (writes records closed inside ticks; allocation-free ticks stay so)
#     hooks: lp.mark_power_fail(t), lp.mark_clock_adjusted(t) (metrology.power_fail / clock_adjusted
#     call them), resume(now) / clock_adjusted(old, new) are called by the metrology.
#
# Every `period` seconds (config 'profile_period', default 900; a divisor of 3600 or a multiple of 3600
# dividing 86400; aligned to UTC multiples of the period) the profile records, at the boundary time
# exactly (the metrology cuts long ticks there), the cumulative values of its channels: by default
# A+ (1-0:1.8.0), A- (1-0:2.8.0), R+ (5.8.0 + 6.8.0) and R- (7.8.0 + 8.8.0) in Wh / varh, modulo the
# register rollover. The energy of an interval is the difference to the previous record, so a lost
# or damaged record never loses energy: the next difference covers both intervals.
#
# Record payload (23 bytes, little endian, in a 32-byte ring slot with seq, CRC-32 and commit byte):
#     t_end i32 (meter seconds), status u8, dur u16 (seconds the interval was open), v0..v3 u32
# Status bits (DLMS AMR profile status): POWER_DOWN 0x80 (power failed in the interval),
# CLOCK_ADJUSTED 0x20, DST 0x08 (summer time of the meter's time zone at t_end), DATA_NOT_VALID 0x04 (registers were lost
# before this interval), CLOCK_INVALID 0x02, ERROR 0x01.
# Irregular records: after an outage, the interval open at power down is closed at its scheduled end
# with POWER_DOWN (no records for intervals that passed entirely without power); a clock set forward
# past the boundary closes it at its scheduled end, a clock set back out of the interval closes it at
# the old time (both with CLOCK_ADJUSTED), and the next interval starts at the new time.
import struct
from array import array

from meter.common.timezone import TimeZone

SECTION = 0x5046  # "PF"
RECORD = 32  # ring slot size
PAYLOAD = 23
NCH = 4
ROLLOVER = 1000000000

ERROR = 0x01
CLOCK_INVALID = 0x02
DATA_NOT_VALID = 0x04
DST = 0x08
CLOCK_ADJUSTED = 0x20
POWER_DOWN = 0x80

DEFAULT_CHANNELS = (("1-0:1.8.0",), ("1-0:2.8.0",), ("1-0:5.8.0", "1-0:6.8.0"), ("1-0:7.8.0", "1-0:8.8.0"))
NEVER = 0x3FFFFFFF
QLEN = 8


def check_period(period):
    if period < 60 or not (3600 % period == 0 or (period % 3600 == 0 and 86400 % period == 0)):
        raise ValueError("profile period must divide 3600 or be a multiple of 3600 dividing 86400")
    return period


class LoadProfile:
    state_size = 12

    def __init__(self, registers, ring=None, config=None, channels=DEFAULT_CHANNELS, tz=None):
        cfg = config or {}
        self.period = check_period(cfg.get("profile_period", 900))
        self.tz = tz if tz is not None else TimeZone()  # the meter's (MeterClock.tz)
        self.regs = registers
        self.ring = ring
        if ring is not None and ring.psize < PAYLOAD:
            raise ValueError("profile ring records too small")
        self._slots = array("h", [-1] * (2 * NCH))
        self.channels = channels
        self.resolve()
        self.next_boundary = NEVER
        self.start_t = -1  # start of the open interval (-1: not started)
        self.status = 0
        self._pend = bytearray(QLEN * PAYLOAD)
        self.npend = 0
        self.dropped = 0
        self.records = 0

    def resolve(self):
        """(Re)resolve channel register slots (call again if registers were defined later)."""
        regs = self.regs
        for c in range(NCH):
            codes = self.channels[c] if c < len(self.channels) else ()
            for k in range(2):
                self._slots[2 * c + k] = regs.slot(codes[k]) if k < len(codes) and regs.has(codes[k]) else -1

    # --- time base -------------------------------------------------------------------------------------
    def _align(self, t):
        p = self.period
        return (t // p + 1) * p

    def resume(self, now):
        """Start or restart after boot (after the state store restored us)."""
        self.tz.dst(now)  # warm the time zone's DST cache outside the ticks
        if self.start_t < 0 or self.next_boundary == NEVER:
            self.start_t = now
            self.next_boundary = self._align(now)
            return
        if now >= self.next_boundary:
            self._emit(self.next_boundary, self.status | POWER_DOWN)
            self.start_t = now
            self.next_boundary = self._align(now)
            self.status = POWER_DOWN
        else:
            self.status |= POWER_DOWN

    def boundary(self, b):
        self._emit(b, self.status)
        self.start_t = b
        self.status = 0
        self.next_boundary = b + self.period

    def clock_adjusted(self, old, new):
        if self.start_t < 0:
            return self.resume(new)
        if new >= self.next_boundary:
            self._emit(self.next_boundary, self.status | CLOCK_ADJUSTED)
        elif new < self.start_t:
            self._emit(old, self.status | CLOCK_ADJUSTED)
        else:
            self.status |= CLOCK_ADJUSTED
            return
        self.start_t = new
        self.next_boundary = self._align(new)
        self.status = CLOCK_ADJUSTED

    def mark_power_fail(self, t):
        self.status |= POWER_DOWN

    def mark_clock_adjusted(self, t):
        self.status |= CLOCK_ADJUSTED

    def mark_data_not_valid(self):
        self.status |= DATA_NOT_VALID

    # --- records ---------------------------------------------------------------------------------------
    def _value(self, c):
        vals = self.regs.values
        v = 0
        for k in range(2):
            s = self._slots[2 * c + k]
            if s >= 0:
                v += vals[s]
        if v >= ROLLOVER:
            v -= ROLLOVER
        return v

    def _emit(self, t_end, status):
        if self.npend >= QLEN:
            if self.ring is not None:
                self.flush()
            else:
                self._pend[0:(QLEN - 1) * PAYLOAD] = self._pend[PAYLOAD:]
                self.npend -= 1
                self.dropped += 1
        dur = t_end - self.start_t
        if dur < 0:
            dur = 0
        elif dur > 0xFFFF:
            dur = 0xFFFF
        if self.tz.dst(t_end):
            status |= DST
        off = self.npend * PAYLOAD
        struct.pack_into("<iBHIIII", self._pend, off, t_end, status, dur, self._value(0), self._value(1),
                         self._value(2), self._value(3))
        self.npend += 1
        self.records += 1

    def flush(self):
        """Write the records closed since the last flush to the ring (call outside the tick)."""
        ring = self.ring
        n = self.npend
        if ring is None or not n:
            return 0
        ring.append_from(self._pend, n, PAYLOAD)
        self.npend = 0
        return n

    def open(self, events=None, now=0):
        """Scan the ring at boot; logs STORAGE_CORRUPT if damaged records were found."""
        return None if self.ring is None else self.ring.open_logged(events, now)

    # --- readers ---------------------------------------------------------------------------------------
    def count(self):
        return self.npend + (self.ring.count if self.ring is not None else 0)

    def get(self, k):
        """k-th newest record (0 = newest) as (t_end, status, dur, (v0, v1, v2, v3)), or None."""
        if self.ring is None:
            p = memoryview(self._pend)[(self.npend - 1 - k) * PAYLOAD:] if 0 <= k < self.npend else None
        else:
            p = self.ring.nth_newest(k, self._pend, self.npend, PAYLOAD)
        if p is None:
            return None
        t, st, dur, a, b, c, d = struct.unpack_from("<iBHIIII", p, 0)
        return t, st, dur, (a, b, c, d)

    def interval(self, k):
        """Energy of the k-th newest interval: (t_end, status, dur, (d0, d1, d2, d3)) from records k
        and k + 1, or None if either is missing."""
        r = self.get(k)
        q = self.get(k + 1)
        if r is None or q is None:
            return None
        d = tuple((r[3][i] - q[3][i]) % ROLLOVER for i in range(NCH))
        return r[0], r[1], r[2], d

    # --- persistence of the open interval -----------------------------------------------------------------
    def dump_into(self, buf):
        struct.pack_into("<iiHH", buf, 0, self.next_boundary, self.start_t, self.status, 0)

    def load_from(self, buf):
        nb, st, status, _ = struct.unpack_from("<iiHH", buf, 0)
        if nb != NEVER and (st < 0 or nb <= st - self.period or nb % self.period):
            return False
        self.next_boundary, self.start_t, self.status = nb, st, status
        return True
