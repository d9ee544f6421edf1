# The decoder key record: the key and the parameters it was generated for (IEC 62055-41 KT, KRN,
# TI, KEN, SGC) plus the base date in force. The owner keeps it in its key store and passes it to
# Decoder.enter(); a completed key change comes back as a new record in a SET_KEY action.
#
# The key is held privately and never shown: repr() hides it and no error message contains it.
# to_bytes() / from_bytes() give a fixed-size record (RECORD_SIZE bytes) for the key store.
from micropython import const
import struct
from . import cipher

KT_DITK = const(0)  # initialisation key (manufacturing)
KT_DDTK = const(1)  # default key
KT_DUTK = const(2)  # unique key
KT_DCTK = const(3)  # common key

RECORD_SIZE = const(28)
_VERSION = const(1)
_FMT = "<BBBBBBBBI"  # version, ea, kt, krn, ti, ken, base, key length, sgc; then 16 key bytes


class KeyRecord:
    def __init__(self, ea, key, kt, krn, ti, ken=255, sgc=0, base=0):
        if len(key) != cipher.key_len(ea):
            raise ValueError("key length does not match the EA code")
        if not (0 <= kt <= 3 and 1 <= krn <= 9 and 0 <= ti <= 99 and 0 <= ken <= 255
                and 0 <= sgc <= 999999 and 0 <= base <= 2):
            raise ValueError("key parameter out of range")
        self.ea = ea
        self.kt = kt
        self.krn = krn
        self.ti = ti
        self.ken = ken
        self.sgc = sgc
        self.base = base
        self._k = bytes(key)

    def key(self):
        """The key bytes (for the cipher only; never print or log them)."""
        return self._k

    def bits(self):
        return len(self._k) << 3

    def __repr__(self):
        return "KeyRecord(EA%02d KT%d KRN%d TI%02d KEN%d SGC%06d base=%d key=<%d bits hidden>)" % (
            self.ea, self.kt, self.krn, self.ti, self.ken, self.sgc, self.base, self.bits())

    def __str__(self):
        return self.__repr__()

    def to_bytes(self):
        buf = bytearray(RECORD_SIZE)
        struct.pack_into(_FMT, buf, 0, _VERSION, self.ea, self.kt, self.krn, self.ti, self.ken,
                         self.base, len(self._k), self.sgc)
        buf[12:12 + len(self._k)] = self._k
        return bytes(buf)

    @staticmethod
    def from_bytes(buf):
        """Parse a record written by to_bytes(); ValueError if it is not one."""
        if len(buf) != RECORD_SIZE:
            raise ValueError("key record size")
        v, ea, kt, krn, ti, ken, base, n, sgc = struct.unpack_from(_FMT, buf, 0)
        if v != _VERSION or n not in (8, 16):
            raise ValueError("key record version")
        return KeyRecord(ea, bytes(buf[12:12 + n]), kt, krn, ti, ken, sgc, base)
