# IEC 62056-21 framing: control characters, the baud table, block check (BCC), wrapping ms ticks,
# and the session's action codes. Shared by the session, the readout and the host-side tests.
try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

from meter.common.crc import crc32_signed
from meter.common.ticks import tdiff, tadd  # noqa: F401 (part of this module's API)

SOH = const(1)
STX = const(2)
ETX = const(3)
EOT = const(4)
ACK = const(6)
NAK = const(0x15)
CR = const(13)
LF = const(10)

# Actions the session returns (see session.py): the port carries them out in order.
SEND = const(1)  # (SEND, bytes-like): write to the UART
BAUD = const(2)  # (BAUD, baudrate): re-initialise the UART, 7E1
EVENT = const(3)  # (EVENT, code, a, b): log to the event log, stamped by the port
LOCKOUT = const(4)  # (LOCKOUT, record8): persist the wrong-password state now (before any answer)
WRITE = const(5)  # (WRITE, index, value): apply a W1 in the registry, then session.write_done()
BINARY = const(6)  # (BINARY, baudrate): mode E - the line goes 8N1 at this baud to the HDLC link

# mode C baud rate characters '0'..'6' (IEC 62056-21 6.3.14)
BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)

RX_MAX = const(256)  # longest frame accepted (SOH .. ETX); longer ones get (ERROR:LENGTH)



def bcc(data, start=0, end=-1, acc=0):
    """IEC 62056-21 block check: XOR of data[start:end], 7 bits."""
    if end < 0:
        end = len(data)
    for i in range(start, end):
        acc ^= data[i]
    return acc & 0x7F


def value_code(text):
    """Event a/b value of a parameter value text: the int if the text (without a '*unit') is a
    plain decimal integer below 2**30, else the CRC-32 of the text as a signed 32-bit int."""
    s = text
    k = s.find("*")
    if k >= 0:
        s = s[:k]
    digits = s[1:] if s[:1] == "-" else s
    if digits and len(digits) <= 9 and digits.isdigit():
        return int(s)
    return crc32_signed(text.encode())
