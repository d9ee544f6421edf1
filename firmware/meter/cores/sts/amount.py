# The 16-bit Amount field of credit tokens (IEC 62055-41 TransferCredit amount): a 2-bit exponent e
# (top) and a 14-bit mantissa m. Value in 0.1 units = m * 10**e + sum(n=1..e) 2**14 * 10**(n-1),
# so each exponent continues where the previous one ended:
#   e=0: 0 .. 16383          (0.0 .. 1638.3)      step 1
#   e=1: 16384 .. 180214     (1638.4 .. 18021.4)  step 10
#   e=2: 180224 .. 1818524   (18022.4 .. ...)     step 100
#   e=3: 1818624 .. 18201624 (181862.4 .. 1820162.4) step 1000
# The largest value is below 2**30: a small int on 32-bit ports.

_POW = (1, 10, 100, 1000)
_OFFSET = (0, 16384, 180224, 1818624)
MAX = 18201624  # decode(0xFFFF)


def decode(field):
    """Amount in 0.1 units of the 16-bit field."""
    e = field >> 14
    return (field & 0x3FFF) * _POW[e] + _OFFSET[e]


def encode(value):
    """The field for an amount in 0.1 units, exactly representable, else ValueError. Takes the
    smallest exponent that holds the value (the representation is unique)."""
    for e in range(4):
        m, r = divmod(value - _OFFSET[e], _POW[e])
        if 0 <= m <= 0x3FFF:
            if r:
                raise ValueError("amount not representable")
            return e << 14 | m
    raise ValueError("amount out of range")
