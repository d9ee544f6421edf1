# The token CRC (IEC 62055-41): CRC-16 with polynomial 0x8005 reflected, init 0xFFFF
# (CRC-16/MODBUS) over class | the first 48 bits of the block (class 2 bits, then subclass .. amount:
# 50 bits, right-aligned in 7 bytes); the two CRC bytes are swapped before they go into the block's
# last 16 bits (check('123456789') = 0x4B37 is inserted as 0x374B).
import metercrypto


def matches(buf9, mv7):
    """buf9 = [class, block[0..7]]; mv7 = a memoryview of its first 7 bytes. True if the block's
    CRC field matches. Allocates nothing."""
    return metercrypto.crc16_modbus(mv7) == (buf9[8] << 8) | buf9[7]


def field(mv7):
    """The 16-bit CRC field value (as stored in the block, bytes swapped) for class + 48 bits."""
    c = metercrypto.crc16_modbus(mv7)
    return (c & 0xFF) << 8 | c >> 8
