# Failed-authentication counter and lockout for the DLMS associations (LLS password, HLS GMAC,
# deciphering failures of an AARQ), shared by every DLMS server instance of the meter (TCP and
# optical HDLC alike). Same policy and the same 8-byte record as the optical port's lockout
# (iec62056_21.Lockout): `max_fails` consecutive failures lock for `base_s`, doubling per further
# lockout up to `max_s`; a success resets. The counter is incremented BEFORE a secret is checked
# (a power cut during the check costs a try) and the lockout counts down only while the meter runs.
# Sans-I/O: instead of a callback, `changed` is set whenever the state to persist changed; the
# server turns that into a (STORE, "lockout", dump) action before its answer goes out.
# (Candidate for meter.common once the optical session moves: one lockout for both ports.)
from micropython import const

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
VERSION = const(1)


def _tdiff(a, b):
    return ((a - b + _HALF) & _MASK) - _HALF


class Lockout:
    def __init__(self, max_fails=3, base_s=60, max_s=86400):
        self.max_fails = max_fails
        self.base_s = base_s
        self.max_s = max_s
        self.fails = 0
        self.streak = 0
        self._until = 0
        self._locked = False
        self._load_s = 0
        self.changed = False

    def locked(self, now):
        if self._load_s:
            self._until = (now + self._load_s * 1000) & _MASK
            self._locked = True
            self._load_s = 0
        if self._locked and _tdiff(now, self._until) >= 0:
            self._locked = False
        return self._locked

    def remaining_s(self, now):
        if self._load_s:
            return self._load_s
        if not self.locked(now):
            return 0
        return (_tdiff(self._until, now) + 999) // 1000

    def attempt(self):
        self.fails += 1
        self.changed = True

    def success(self):
        if self.fails or self.streak:
            self.fails = 0
            self.streak = 0
            self.changed = True

    def failure(self, now):
        """The counted try was wrong; returns the lockout in seconds if one starts, else 0."""
        if self.fails < self.max_fails:
            return 0
        s = self.base_s << self.streak if self.streak < 20 else self.max_s
        s = min(s, self.max_s)
        self.streak = min(self.streak + 1, 30)
        self.fails = 0
        self._load_s = 0
        self._until = (now + s * 1000) & _MASK
        self._locked = True
        self.changed = True
        return s

    def dump(self, now):
        """8 bytes: version, fails, streak, 0, remaining lockout seconds (u32 LE)."""
        r = self.remaining_s(now)
        return bytes((VERSION, min(self.fails, 255), min(self.streak, 255), 0,
                      r & 0xFF, (r >> 8) & 0xFF, (r >> 16) & 0xFF, (r >> 24) & 0xFF))

    def load(self, data):
        """Restore a dump() (the remaining lockout restarts at the next call); a bad record
        raises ValueError and leaves the state as it was."""
        if data is None or len(data) != 8 or data[0] != VERSION or data[3] != 0:
            raise ValueError("bad lockout record")
        r = data[4] | (data[5] << 8) | (data[6] << 16) | (data[7] << 24)
        self.fails = data[1]
        self.streak = data[2]
        self._locked = False
        self._load_s = min(r, self.max_s)
