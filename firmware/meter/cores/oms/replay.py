# OMS replay protection (EN 13757-7 9.5.2: the message counter shall increase): one counter slot
# per meter, kept in an int array, persisted by its owner as bytes (dump/load). Slot 0 is the
# meter's own transmit counter by convention of services/collector.py and radio_tx.py.
import array
import struct
from micropython import const

_MAGIC = const(0x4F4D)  # "OM"
NONE = const(-1)  # no frame accepted yet


class Counters:
    def __init__(self, n):
        self.last = array.array("i", [NONE] * n)

    def fresh(self, i, c):
        """True when counter c is newer than the last accepted one of slot i (no state change)."""
        return c > self.last[i]

    def accept(self, i, c):
        """Record c after the frame authenticated and decoded (call only then)."""
        self.last[i] = c

    def dump(self):
        n = len(self.last)
        out = bytearray(4 + 4 * n)
        struct.pack_into("<HH", out, 0, _MAGIC, n)
        for i in range(n):
            struct.pack_into("<i", out, 4 + 4 * i, self.last[i])
        return bytes(out)

    def load(self, data):
        """Restore from dump(); ValueError on a foreign/corrupt blob (state unchanged). Slots
        beyond the stored count stay as they are (meters added to the configuration)."""
        if len(data) < 4:
            raise ValueError("replay: short state")
        magic, n = struct.unpack_from("<HH", data, 0)
        if magic != _MAGIC or len(data) != 4 + 4 * n:
            raise ValueError("replay: bad state")
        for i in range(min(n, len(self.last))):
            self.last[i] = struct.unpack_from("<i", data, 4 + 4 * i)[0]
