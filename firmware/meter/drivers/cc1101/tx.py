# CC1101 transmit (the driver's TX half, core.py's CC1101.transmit/service call it): its own
# module so a receive-only meter (a collector) never holds these functions in RAM. Functions of
# the CC1101 object `r`, allocation-free. Packet length as in receive (SWRS061 15.3): infinite
# length mode until fewer than 256 bytes remain to send, then fixed length ending at PKTLEN.
from micropython import const

from meter.drivers.cc1101 import regs as R
from meter.drivers.cc1101.core import EV_TX_DONE, EV_TX_FAIL

# chip constants (SWRS061 10, 29): private consts are inlined, so the ones core.py uses are
# repeated here rather than made module attributes there
_BURST = const(0x40)
_PKTLEN = const(0x06)
_PKTCTRL0 = const(0x08)
_STX = const(0x35)
_SIDLE = const(0x36)
_SFTX = const(0x3B)
_TXBYTES = const(0x3A)  # bit 7 TXFIFO_UNDERFLOW, 6..0 bytes
_FIFO = const(0x3F)
_FIFO_SIZE = const(64)
_ST_IDLE = const(0)
_ST_TXFIFO_UNDERFLOW = const(7)
_LEN_FIXED = const(0)
_LEN_INFINITE = const(2)
_TX = const(2)  # core.py's driver states
_OFF = const(3)


def start(r, src, n, patch, s1):
    """CC1101.transmit(): load the TX registers, fill the FIFO, STX."""
    r.strobe(_SIDLE)
    r._load(1 if s1 else 0, patch)
    r.strobe(_SFTX)
    total = n + (len(R.S1_HEADER) if s1 else 0)
    r._tx_src = src
    r._tx_n = r._tx_end = n
    if total & 0xFF == 0:  # PKTLEN 0 cannot end a packet: one more postamble byte
        r._tx_n = n + 1
        total += 1
    r._tx_pos = -len(R.S1_HEADER) if s1 else 0
    r.write_reg(_PKTLEN, total & 0xFF)
    r._tx_fixed = total < 256 and total & 0xFF != 0
    r.write_reg(_PKTCTRL0, _LEN_FIXED if r._tx_fixed else _LEN_INFINITE)
    _fill(r, _FIFO_SIZE)
    r._st = _TX
    r._strobe_cal(_STX)


def _fill(r, room):
    while room > 0 and r._tx_pos < r._tx_n:
        p = r._tx_pos
        if p < 0:
            k = -p if -p < room else room
            h = R.S1_HEADER
            r._write_chunks(_FIFO | _BURST, h, len(h) + p, k)
        elif p >= r._tx_end:
            k = 1
            r._write_chunks(_FIFO | _BURST, b"\x55", 0, 1)
        else:
            k = r._tx_end - p
            if k > room:
                k = room
            r._write_chunks(_FIFO | _BURST, r._tx_src, p, k)
        r._tx_pos += k
        room -= k


def service(r):
    """CC1101.service() while transmitting: refill the TX FIFO; EV_TX_DONE/EV_TX_FAIL at the end."""
    txb = r._read_stable(_TXBYTES)
    state = (r._r[0] >> 4) & 7
    if txb & 0x80 or state == _ST_TXFIFO_UNDERFLOW:
        r.underflows += 1
        r.strobe(_SIDLE)
        r.strobe(_SFTX)
        r._st = _OFF
        return EV_TX_FAIL
    count = txb & 0x7F
    left = r._tx_n - r._tx_pos  # not yet in the FIFO
    if not r._tx_fixed and left + count < 256 and (left + count) & 0xFF:
        r.write_reg(_PKTCTRL0, _LEN_FIXED)  # fewer than 256 to send: end at PKTLEN
        r._tx_fixed = True
    if left > 0:
        _fill(r, _FIFO_SIZE - count)
        return 0
    if state == _ST_IDLE and count == 0:  # TXOFF_MODE = IDLE: the packet is out
        r._st = _OFF
        return EV_TX_DONE
    return 0
