# Wrong-secret counter and lockout, one policy for every port that checks a secret: the optical
# port's programming mode (cores/iec62056_21) and the DLMS associations (cores/dlms: LLS password,
# HLS GMAC, deciphering failures of an AARQ). `max_fails` consecutive failures lock for `base_s`,
# doubling per further lockout up to `max_s`; a success resets. The counter is incremented BEFORE a
# secret is checked (a power cut during the check costs a try) and the lockout counts down only
# while the meter runs (a power cut never shortens it).
# Sans-I/O: `changed` is set whenever the state to persist changed; the owning session turns it
# into a persist action before its answer goes out, and clears it.
from meter.common.ticks import tdiff, tadd


class Lockout:
    VERSION = 1

    def __init__(self, max_fails=3, base_s=60, max_s=86400):
        self.max_fails = max_fails
        self.base_s = base_s
        self.max_s = max_s
        self.fails = 0  # consecutive failures since the last lockout or success (incl. pending try)
        self.streak = 0  # lockouts since the last success (the next one lasts base_s << streak)
        self._until = 0  # tick at which the current lockout ends
        self._locked = False
        self._load_s = 0  # remaining seconds loaded from storage, started at the next tick
        self.changed = False

    def tick(self, now):
        if self._load_s:
            self._until = tadd(now, self._load_s * 1000)
            self._locked = True
            self._load_s = 0
        if self._locked and tdiff(now, self._until) >= 0:
            self._locked = False

    def locked(self, now):
        self.tick(now)
        return self._locked

    def remaining_s(self, now):
        if self._load_s:
            return self._load_s
        if not self.locked(now):
            return 0
        return (tdiff(self._until, now) + 999) // 1000

    def attempt(self):
        """Count a try before checking it (pessimistic); persisted at once."""
        self.fails += 1
        self.changed = True

    def success(self):
        if self.fails or self.streak:  # after attempt() always: fails >= 1
            self.fails = 0
            self.streak = 0
            self.changed = True

    def failure(self, now):
        """The counted try was wrong. Returns the lockout in seconds if one starts, else 0."""
        if self.fails < self.max_fails:
            return 0
        s = self.base_s << self.streak if self.streak < 20 else self.max_s
        if s > self.max_s:
            s = self.max_s
        self.streak = min(self.streak + 1, 30)
        self.fails = 0
        self._load_s = 0
        self._until = tadd(now, s * 1000)
        self._locked = True
        self.changed = True
        return s

    def dump(self, now):
        """8 bytes: version, fails, streak, 0, remaining lockout seconds (u32 LE)."""
        r = self.remaining_s(now)
        return bytes((self.VERSION, min(self.fails, 255), min(self.streak, 255), 0,
                      r & 0xFF, (r >> 8) & 0xFF, (r >> 16) & 0xFF, (r >> 24) & 0xFF))

    def load(self, data):
        """Restore a dump(); the remaining lockout restarts at the next tick. A bad record raises
        ValueError and leaves the state as it was."""
        if data is None or len(data) != 8 or data[0] != self.VERSION or data[3] != 0:
            raise ValueError("bad lockout record")
        r = data[4] | (data[5] << 8) | (data[6] << 16) | (data[7] << 24)
        self.fails = data[1]
        self.streak = data[2]
        self._locked = False
        self._load_s = min(r, self.max_s)
