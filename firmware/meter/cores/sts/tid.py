# Token identifiers and the TID memory (IEC 62055-41 TID, base dates, token replay protection).
#
# A TID is the token's issue time in minutes since the meter's base date, 24 bits: it rolls over
# 2**24 minutes after each base date (1993-01-01 -> 2024-11-24 20:16 UTC, 2014-01-01 -> 2045-11-24
# 20:16, 2035-01-01 -> 2066-11-24 20:16). A key change token pair with the rollover bit moves the
# meter to the next base date and clears this memory (keychange.py).
#
# The memory keeps the `capacity` (default 50) highest TIDs accepted so far. A token is
#   Used  if its TID is in memory;
#   Old   if the memory is full and its TID is below the lowest one kept: it may have been
#         accepted and then forgotten, so it is refused.
# Otherwise it is new; when the memory is full, accepting it replaces the lowest entry (the new TID
# is higher, or it would be Old), which keeps the Old rule sound.
#
# Storage: the memory IS its journal record, one preallocated bytearray of fixed size
# 4 + 3 * capacity: [version, capacity, count, base date index, count x TID (3 bytes, big-endian)].
# The base date index is in the record so that a power cut between persisting a rollover key change
# and persisting the cleared memory is detected on restore (load()).
from micropython import const
from . import result

BASE_YEARS = (1993, 2014, 2035)
# minutes from each base date to the meter epoch 2020-01-01T00:00Z (timeutil), in small ints
BASE_MINUTES = (-14199840, -3155040, 7889760)
TID_MAX = const(0xFFFFFF)
_VERSION = const(1)
_HDR = const(4)


def meter_minutes(base, tid):
    """Minutes since 2020-01-01T00:00Z of a TID under base date index base (0, 1, 2)."""
    return BASE_MINUTES[base] + tid


class TidMemory:
    def __init__(self, capacity=50):
        if not 1 <= capacity <= 255:
            raise ValueError("TID memory capacity 1..255")
        self.capacity = capacity
        self._rec = bytearray(_HDR + 3 * capacity)
        self._rec[0] = _VERSION
        self._rec[1] = capacity

    def __len__(self):
        return self._rec[2]

    def base(self):
        return self._rec[3]

    def _at(self, i):
        r = self._rec
        o = _HDR + 3 * i
        return r[o] << 16 | r[o + 1] << 8 | r[o + 2]

    def _put(self, i, tid):
        r = self._rec
        o = _HDR + 3 * i
        r[o] = tid >> 16
        r[o + 1] = (tid >> 8) & 0xFF
        r[o + 2] = tid & 0xFF

    def _lowest(self):
        """(index, TID) of the lowest entry; (-1, TID_MAX + 1) if empty."""
        r = self._rec
        lo = TID_MAX + 1
        at = -1
        o = _HDR
        for i in range(r[2]):
            t = r[o] << 16 | r[o + 1] << 8 | r[o + 2]
            if t < lo:
                lo = t
                at = i
            o += 3
        return at, lo

    def check(self, tid):
        """0 if tid may be accepted, else result.USED or result.OLD. Changes nothing."""
        r = self._rec
        lo = TID_MAX + 1
        o = _HDR
        for i in range(r[2]):
            t = r[o] << 16 | r[o + 1] << 8 | r[o + 2]
            if t == tid:
                return result.USED
            if t < lo:
                lo = t
            o += 3
        if r[2] == self.capacity and tid < lo:
            return result.OLD
        return 0

    def add(self, tid):
        """Remember an accepted TID (check(tid) must have returned 0)."""
        n = self._rec[2]
        if n < self.capacity:
            self._put(n, tid)
            self._rec[2] = n + 1
        else:
            self._put(self._lowest()[0], tid)

    def tids(self):
        """The remembered TIDs, ascending (tests and diagnostics; allocates)."""
        return sorted(self._at(i) for i in range(self._rec[2]))

    def clear(self, base):
        r = self._rec
        for i in range(2, len(r)):
            r[i] = 0
        r[3] = base

    def record(self):
        """The fixed-size journal record (the live buffer: write it out before the next token)."""
        return self._rec

    def load(self, buf, base):
        """Restore from a record; base = the base date index of the key record in force. A record
        of an earlier base date is from before a rollover key change: the memory starts empty.
        ValueError for a record that is malformed or of a later base date; the memory is then
        unchanged."""
        r = self._rec
        if len(buf) != len(r) or buf[0] != _VERSION or buf[1] != self.capacity or buf[2] > self.capacity:
            raise ValueError("TID record")
        if buf[3] > base:
            raise ValueError("TID record of a later base date than the key")
        if buf[3] < base:
            self.clear(base)
            return
        for i in range(len(r)):
            r[i] = buf[i]
