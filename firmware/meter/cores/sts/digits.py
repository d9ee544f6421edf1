# The 20-digit token number <-> token class + 64-bit block (IEC 62055-41 token carrier format).
#
# The 66-bit TokenData is printed as 20 zero-padded decimal digits. Its two class bits are not in
# front: they replace bits 28..27 of the (encrypted) 64-bit block, and the two block bits they
# displace become bits 65..64. Bits are numbered from 0 = least significant.
#
# 10**20 > 2**66 needs long ints; 32-bit MicroPython has 31-bit small ints, so the number is kept
# in five 16-bit limbs (plain locals: parsing allocates nothing). The block is big-endian bytes.


def parse_into(digits, blk):
    """Parse 20 ASCII digits (bytes, bytearray or memoryview) into blk[0:8] (the 64-bit block,
    class bits transposed back, big-endian). Returns the class (0..3), or -1 if the input is not
    exactly 20 digits or its value is 2**66 or more; blk is then left untouched."""
    if len(digits) != 20:
        return -1
    l0 = l1 = l2 = l3 = l4 = 0
    for i in range(20):
        d = digits[i] - 48
        if d < 0 or d > 9:
            return -1
        v = l0 * 10 + d
        l0 = v & 0xFFFF
        v = l1 * 10 + (v >> 16)
        l1 = v & 0xFFFF
        v = l2 * 10 + (v >> 16)
        l2 = v & 0xFFFF
        v = l3 * 10 + (v >> 16)
        l3 = v & 0xFFFF
        l4 = l4 * 10 + (v >> 16)  # < 6: 10**20 / 2**64 = 5.4
    if l4 > 3:
        return -1
    cls = (l1 >> 11) & 3  # token bits 28..27 = limb 1 bits 12..11
    l1 = (l1 & 0xE7FF) | (l4 << 11)  # put the displaced block bits back
    blk[0] = l3 >> 8
    blk[1] = l3 & 0xFF
    blk[2] = l2 >> 8
    blk[3] = l2 & 0xFF
    blk[4] = l1 >> 8
    blk[5] = l1 & 0xFF
    blk[6] = l0 >> 8
    blk[7] = l0 & 0xFF
    return cls


def format_token(cls, blk):
    """The 20-digit string of class cls (0..3) and the 64-bit block blk (8 bytes, big-endian).
    Not on the meter's hot path (tests, display of a stored token); allocates the result."""
    if not 0 <= cls <= 3 or len(blk) != 8:
        raise ValueError("class or block length")
    l3 = blk[0] << 8 | blk[1]
    l2 = blk[2] << 8 | blk[3]
    l1 = blk[4] << 8 | blk[5]
    l0 = blk[6] << 8 | blk[7]
    l4 = (l1 >> 11) & 3
    l1 = (l1 & 0xE7FF) | (cls << 11)
    out = bytearray(20)
    for i in range(19, -1, -1):  # long division by 10, most significant limb first
        q = l4 // 10
        r = l4 - q * 10
        l4 = q
        v = r << 16 | l3
        l3 = v // 10
        v = (v - l3 * 10) << 16 | l2
        l2 = v // 10
        v = (v - l2 * 10) << 16 | l1
        l1 = v // 10
        v = (v - l1 * 10) << 16 | l0
        l0 = v // 10
        out[i] = 48 + v - l0 * 10
    return out.decode()
