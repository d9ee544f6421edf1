# Test-only extension of `os` on MicroPython's qemu port, which lacks getenv and urandom (`os` is an
# extensible built-in: this file shadows it and re-exports the built-in's names).
#   getenv(name, default): the test environment of tests/qemu (MC_TEST_QUICK=1: the crypto tests
#       skip the vectors that take minutes under emulation, as under valgrind)
#   urandom(n): deterministic bytes (xorshift32): tests need different values, not secret ones
import sys

_path = sys.path[:]
sys.path.clear()  # an empty sys.path makes `import` take the built-in module
try:
    from os import *  # noqa: F401,F403
finally:
    sys.path.extend(_path)
del _path

_ENV = {"MC_TEST_QUICK": "1"}
_state = [0x2545F491]


def getenv(name, default=None):
    return _ENV.get(name, default)


def urandom(n):
    out = bytearray(n)
    x = _state[0]
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    _state[0] = x
    return bytes(out)
