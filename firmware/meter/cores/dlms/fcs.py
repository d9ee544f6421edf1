# HDLC frame check sequence (IEC 62056-46 clause 5.3.3.5, ISO/IEC 13239 FCS-16): CRC-16/X-25,
# polynomial x^16+x^12+x^5+1 reflected (0x8408), init 0xFFFF, final xor 0xFFFF, sent low byte
# first. Check value of b"123456789" is 0x906E. metercrypto has no X-25 CRC, so this is a nibble
# table (16 entries, 32 bytes of const data; a C variant in metercrypto would be ~10x faster).
from micropython import const

GOOD = const(0xF0B8)  # residue of the register run over data + its own FCS (before the final xor)

# T[n] = CRC of the 4-bit value n (reflected poly 0x8408), computed once by hand from the polynomial
_T = (0x0000, 0x1081, 0x2102, 0x3183, 0x4204, 0x5285, 0x6306, 0x7387,
      0x8408, 0x9489, 0xA50A, 0xB58B, 0xC60C, 0xD68D, 0xE70E, 0xF78F)


def fcs16(buf, start, end, crc=0xFFFF):
    """Running register over buf[start:end]; fcs16(...) ^ 0xFFFF is the FCS to send."""
    t = _T
    for i in range(start, end):
        crc ^= buf[i]
        crc = (crc >> 4) ^ t[crc & 15]
        crc = (crc >> 4) ^ t[crc & 15]
    return crc


def fcs(buf, start, end):
    """The FCS of buf[start:end] (the value to append, low byte first)."""
    return fcs16(buf, start, end) ^ 0xFFFF


def check(buf, start, end):
    """True when buf[start:end] ends with its own correct FCS (low byte first)."""
    return fcs16(buf, start, end) == GOOD
