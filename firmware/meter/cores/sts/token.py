# The token decode pipeline (IEC 62055-41 TokenData): 20 digits -> class + 64-bit block ->
# decryption (class 1 is not encrypted) -> CRC check -> typed fields. One preallocated Token is
# reused for every entry; decoding allocates nothing for EA07.
#
# Block layouts, most significant bit first (every block ends with the 16-bit CRC):
#   class 0 and class 2 subclasses 0-2, 5-7:  subclass(4) RND(4) TID(24) value(16) CRC(16)
#       value: class 0 the amount (amount.py); class 2 the MPL in W / the register / the rate /
#       a pad / the phase unbalance limit in W / the water meter factor
#   class 1 subclass 0:  subclass(4) control(36) MfrCode(8) CRC(16)   (2-digit manufacturer code)
#   class 1 subclass 1:  subclass(4) control(28) MfrCode(16) CRC(16)  (4-digit manufacturer code)
#   class 2 subclasses 3, 4, 8, 9: key change tokens, see keychange.py
# The control field is split into two small ints: ctl_lo = its low 24 bits, ctl_hi = the rest.
from . import digits, crc, cipher, result


class Token:
    def __init__(self):
        self.buf = bytearray(9)  # [class, block 0..7]: the CRC runs over buf[0:7]
        mv = memoryview(self.buf)
        self.blk = mv[1:9]
        self._mv7 = mv[0:7]
        self.cls = self.sub = self.rnd = self.tid = self.value = 0
        self.mfr = self.ctl_hi = self.ctl_lo = 0

    def decode(self, digits_in, key):
        """Run the pipeline; returns 0 with the fields set, result.FORMAT (not 20 digits, value
        >= 2**66, or class 3) or result.CRC. key = the KeyRecord (unused for class 1)."""
        cls = digits.parse_into(digits_in, self.blk)
        if cls < 0 or cls == 3:
            return result.FORMAT
        self.buf[0] = cls
        if cls != 1:
            cipher.decrypt_into(key.ea, key.key(), self.blk)
        if not crc.matches(self.buf, self._mv7):
            return result.CRC
        self._unpack(cls)
        return 0

    def _unpack(self, cls):
        b = self.buf
        self.cls = cls
        self.sub = b[1] >> 4
        if cls == 1:
            if self.sub == 0:
                self.ctl_hi = (b[1] & 15) << 8 | b[2]
                self.ctl_lo = b[3] << 16 | b[4] << 8 | b[5]
                self.mfr = b[6]
            else:
                self.ctl_hi = b[1] & 15
                self.ctl_lo = b[2] << 16 | b[3] << 8 | b[4]
                self.mfr = b[5] << 8 | b[6]
            return
        self.rnd = b[1] & 15
        self.tid = b[2] << 16 | b[3] << 8 | b[4]
        self.value = b[5] << 8 | b[6]
