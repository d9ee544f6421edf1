# Smoke test of the harness and the C module build path.
import metercrypto
from mptest import eq


def test_crc16_arc_check_value():
    eq(metercrypto.crc16_arc(b"123456789"), 0xBB3D)


def test_small_int_width():
    import sys
    import mptest
    if mptest.is32():
        eq(sys.maxsize, 2147483647)
    else:
        eq(sys.maxsize, (1 << 63) - 1)
