# Test-only stand-in for `time` on MicroPython's qemu port, which has none (so asyncio cannot import).
# A virtual millisecond clock: it advances only when code sleeps or asyncio waits (tests/qemu/select.py
# advances it by the wait), so an app run is a discrete-event simulation and as fast as the CPU.
# Ticks wrap at 2**30 like the ports' (MICROPY_PY_TIME_TICKS_PERIOD).
_MASK = (1 << 30) - 1  # 2**30 itself is no small int on a 32-bit port: masks only, no big ints
_HALF = 1 << 29
_now = [0]  # ms


def advance(ms):
    _now[0] += ms


def ticks_ms():
    return _now[0] & _MASK


def ticks_us():
    return (_now[0] * 1000) & _MASK


def ticks_cpu():
    return ticks_us()


def ticks_add(t, d):
    return (t + d) & _MASK


def ticks_diff(a, b):
    return ((a - b + _HALF) & _MASK) - _HALF


def sleep_ms(ms):
    advance(ms)


def sleep_us(us):
    advance(us // 1000)


def sleep(s):
    advance(int(s * 1000))


def time():
    return _now[0] // 1000
