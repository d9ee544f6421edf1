# Bad-token lockout: `after` bad tokens in a row (CRC or Format results: guessing, or a keypad
# brute force) lock token entry for base_s seconds, doubling with every further lock up to max_s.
# A token that decrypts with a good CRC resets the count and the doubling. Time is the meter
# seconds the owner passes in (the core never reads a clock); a lock whose end lies more than max_s
# ahead (the clock was set back) counts as expired.
#
# Persisted: the doubling level and the lock's end, an 8-byte record [version, level, 0, 0,
# until (int32 little-endian)], so a power cycle does not lift a lock. The count of bad tokens
# since the last lock is kept in RAM only.
from micropython import const
import struct

_VERSION = const(1)
_MAX_LEVEL = const(16)
RECORD_SIZE = const(8)


class Lockout:
    def __init__(self, after=5, base_s=60, max_s=86400):
        if after < 1 or base_s < 1 or max_s < base_s:
            raise ValueError("lockout parameters")
        self.after = after
        self.base_s = base_s
        self.max_s = max_s
        self.count = 0
        self._rec = bytearray(RECORD_SIZE)
        self._rec[0] = _VERSION
        self._until = 0  # mirrors the record's int32: no unpacking (allocation) per token

    def level(self):
        return self._rec[1]

    def until(self):
        return self._until

    def locked(self, now):
        d = self._until - now
        return 0 < d <= self.max_s

    def bad(self, now):
        """Count a bad token. True if a lock started (persist record())."""
        self.count += 1
        if self.count < self.after:
            return False
        lv = self._rec[1]
        d = self.base_s << lv
        if d > self.max_s:
            d = self.max_s
        self._until = now + d
        struct.pack_into("<i", self._rec, 4, self._until)
        self._rec[1] = lv + 1 if lv < _MAX_LEVEL else lv
        self.count = 0
        return True

    def good(self):
        """A token decrypted correctly. True if the persisted state changed (persist record())."""
        self.count = 0
        if self._rec[1] == 0:
            return False
        self._rec[1] = 0
        self._until = 0
        struct.pack_into("<i", self._rec, 4, 0)
        return True

    def record(self):
        return self._rec

    def load(self, buf):
        if len(buf) != RECORD_SIZE or buf[0] != _VERSION or buf[1] > _MAX_LEVEL:
            raise ValueError("lockout record")
        for i in range(RECORD_SIZE):
            self._rec[i] = buf[i]
        self._until = struct.unpack_from("<i", self._rec, 4)[0]
        self.count = 0
