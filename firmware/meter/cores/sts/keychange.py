# Key change tokens (IEC 62055-41 class 2 Set1st..4thSectionDecoderKey). A new decoder key comes
# in a set of tokens, each encrypted with the key in force, accepted in any order and applied only
# when the set is complete:
#   64-bit keys (EA07, EA09): subclass 3 (1st) + subclass 4 (2nd)
#   128-bit keys (EA11):      subclasses 3 + 4 + 8 + 9
# Layouts, most significant bit first (then CRC(16)):
#   3: subclass(4) KENHO(4) KRN(4) RO(1) RES(1) KT(2) NKHO(32)
#   4: subclass(4) KENLO(4) TI(8) NKLO(32)
#   8: subclass(4) SGCLO(12) NKMO2(32)
#   9: subclass(4) SGCHO(12) NKMO1(32)
# KEN = KENHO:KENLO (key expiry: tokens whose TID's top 8 bits exceed KEN are refused); KT key type
# (a DITK cannot be loaded by token: KeyType); KRN 1..9 (else Range); TI 0..99 (else Range); RO the
# rollover bit: the new key moves the meter to the next base date and its TID memory is cleared;
# SGC = SGCHO:SGCLO (128-bit sets; 64-bit sets keep the SGC in force). The new key is NKHO:NKLO, or
# NKHO:NKMO1:NKMO2:NKLO, most significant first.
# Key change tokens carry no TID (an old set cannot be replayed: it is encrypted with an old key)
# and are accepted with an expired key, so an expired key can still be replaced.
#
# Every part is checked before it is stored, so a refused part changes nothing; the pending parts
# live in RAM only (a power cut drops an incomplete set; the user enters it again).
from micropython import const
from . import result
from .keyrec import KeyRecord, KT_DITK

_PART = {3: 0, 4: 1, 8: 2, 9: 3}  # subclass -> part index (bit in `parts`, 6-byte slot)
_ALL64 = const(3)
_ALL128 = const(15)


def is_kct(sub):
    return sub in _PART


class KeyChange:
    def __init__(self):
        self._raw = bytearray(24)  # per part: its block bytes 0..5 (fields and 32 key bits)
        self.parts = 0  # bit mask of the parts held: 1 = subclass 3, 2 = 4, 4 = 8, 8 = 9

    def cancel(self):
        for i in range(24):
            self._raw[i] = 0
        self.parts = 0

    def offer(self, tok, cur):
        """Take the key change token decoded in tok (a Token), encrypted with the KeyRecord cur.
        Returns (code, new KeyRecord or None): KCT1 while parts are missing, KCT2 with the new
        record when the set is complete, or KEYTYPE / RANGE / FUNCTION (nothing stored)."""
        sub = tok.sub
        b = tok.buf
        wide = cur.bits() == 128
        if (sub == 8 or sub == 9) and not wide:
            return result.FUNCTION, None
        if sub == 3:
            if b[2] & 3 == KT_DITK:
                return result.KEYTYPE, None
            if not 1 <= b[2] >> 4 <= 9 or (b[2] & 8 and cur.base >= 2):
                return result.RANGE, None
        elif sub == 4 and b[2] > 99:
            return result.RANGE, None
        need = _ALL128 if wide else _ALL64
        k = _PART[sub]
        if (self.parts | 1 << k) & need != need:
            o = 6 * k
            for i in range(6):
                self._raw[o + i] = b[1 + i]
            self.parts |= 1 << k
            return result.KCT1, None
        new = self._build(tok, cur)
        if new is None:
            return result.RANGE, None
        self.cancel()
        return result.KCT2, new

    def _build(self, tok, cur):
        """The new record from the parts held with tok's part put in, or None if it is out of
        range. Changes nothing."""
        r = bytearray(self._raw)
        o = 6 * _PART[tok.sub]
        for i in range(6):
            r[o + i] = tok.buf[1 + i]
        n = cur.bits() >> 3
        nk = bytearray(n)
        for i in range(4):
            nk[i] = r[2 + i]  # NKHO
            nk[n - 4 + i] = r[8 + i]  # NKLO
            if n == 16:
                nk[4 + i] = r[20 + i]  # NKMO1 (subclass 9)
                nk[8 + i] = r[14 + i]  # NKMO2 (subclass 8)
        sgc = ((r[18] & 15) << 20 | r[19] << 12 | (r[12] & 15) << 8 | r[13]) if n == 16 else cur.sgc
        try:
            new = KeyRecord(cur.ea, nk, r[1] & 3, r[1] >> 4, r[7], (r[0] & 15) << 4 | (r[6] & 15), sgc,
                            cur.base + ((r[1] >> 3) & 1))
        except ValueError:
            new = None
        for i in range(len(r)):
            r[i] = 0
        for i in range(n):
            nk[i] = 0
        return new
