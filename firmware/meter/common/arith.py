# Integer arithmetic that stays within 31-bit small ints on 32-bit MCUs (no allocation): products
# are split so no intermediate exceeds max(x, num * den).


def muldiv(x, num, den):
    """floor(x * num / den) for x >= 0 without an intermediate larger than max(x, num * den), so it
    stays in small ints on 32-bit ports when num * den < 2**30. Allocation-free."""
    q = x // den
    return q * num + (x - q * den) * num // den


def smuldiv(x, num, den):
    """muldiv for signed x, truncating toward zero."""
    if x < 0:
        return -muldiv(-x, num, den)
    return muldiv(x, num, den)
