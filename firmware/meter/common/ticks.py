# Millisecond tick arithmetic. The ports' and drivers' `now` values are ticks that wrap at 2**30
# (time.ticks_ms on MicroPython, the boards' line clocks), so every difference and sum goes
# through these; both stay small ints on 32-bit ports and allocate nothing.
try:
    from micropython import const
except ImportError:  # CPython (host tools read the firmware's framing helpers)
    def const(x):
        return x

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def tdiff(a, b):
    """a - b for ms tick values that wrap at 2**30 (or any multiple of it)."""
    return ((a - b + _HALF) & _MASK) - _HALF


def tadd(a, d):
    return (a + d) & _MASK
