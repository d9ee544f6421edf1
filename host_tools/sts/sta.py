"""EA07, the STS Standard Transfer Algorithm (IEC 62055-41), vending side: encryption (and
decryption, for the `vend decode` command and self-checks), on lists of bits.

Encryption of a 64-bit block with a 64-bit decoder key (bit 0 = least significant):
  key alignment: the key is complemented, then rotated right by 12 bits;
  16 rounds of
    substitution: nibble n goes through substitution table 1 if the most significant bit of
                  nibble n of the round key is 0, else through table 2;
    permutation:  bit i moves to bit PERMUTATION[i];
    key rotation: the key rotates left by one bit.
Decryption inverts the rounds in reverse order.

The tables are the STA tables in force for STS-certified equipment (the standard's text prints
sample tables); the CTSA01 conformance tokens in shared/vectors/sts.json check them bit for bit.
This module is independent of the firmware's table-folded decryptor (firmware/meter/cores/sts).
"""
SUBSTITUTION_1 = (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11)
SUBSTITUTION_2 = (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14)
PERMUTATION = (55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
               6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
               51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
               40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26)


def _bits(value, n=64):
    return [(value >> i) & 1 for i in range(n)]


def _value(bits):
    return sum(b << i for i, b in enumerate(bits))


def _rotate(bits, left):
    """Rotate a bit list (index = bit number) left (towards higher bits) by `left` positions."""
    left %= len(bits)
    return bits[-left:] + bits[:-left] if left else list(bits)


def _round_keys(key8):
    """The 16 encryption round keys as bit lists."""
    k = _bits(int.from_bytes(bytes(key8), "big") ^ ((1 << 64) - 1))
    k = _rotate(k, -12)
    keys = []
    for _ in range(16):
        keys.append(k)
        k = _rotate(k, 1)
    return keys


def _check_key(key8):
    if len(bytes(key8)) != 8:
        raise ValueError("an STA decoder key is 8 bytes")


def encrypt(key8, block):
    _check_key(key8)
    bits = _bits(block)
    tables = (SUBSTITUTION_1, SUBSTITUTION_2)
    for k in _round_keys(key8):
        out = []
        for n in range(16):
            table = tables[k[4 * n + 3]]
            out += _bits(table[_value(bits[4 * n:4 * n + 4])], 4)
        moved = [0] * 64
        for i, b in enumerate(out):
            moved[PERMUTATION[i]] = b
        bits = moved
    return _value(bits)


def decrypt(key8, block):
    _check_key(key8)
    inv = [[t.index(v) for v in range(16)] for t in (SUBSTITUTION_1, SUBSTITUTION_2)]
    bits = _bits(block)
    for k in reversed(_round_keys(key8)):
        bits = [bits[PERMUTATION[i]] for i in range(64)]
        out = []
        for n in range(16):
            out += _bits(inv[k[4 * n + 3]][_value(bits[4 * n:4 * n + 4])], 4)
        bits = out
    return _value(bits)
