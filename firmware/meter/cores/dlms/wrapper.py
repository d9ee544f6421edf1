# The DLMS/COSEM TCP wrapper (IEC 62056-47 clause 7.3, Green Book 7.3.3.4): every APDU on a TCP
# connection (port 4059) is preceded by an 8-byte header
#   version (u16 = 0x0001) | source wPort (u16) | destination wPort (u16) | APDU length (u16)
# wPorts are the SAPs: client SAP (1 management, 16 public) and server logical device (1).
#
# Rx reassembles frames from an arbitrary byte stream into one preallocated buffer. A header with a
# version other than 1 (BAD_VERSION) or an APDU length above the limit (OVERSIZE) is a framing
# error the peer cannot recover from on a stream: the owner closes the connection. Nothing is
# allocated per byte or per frame.
from micropython import const
import struct

HEADER = const(8)
VERSION = const(1)

BAD_VERSION = const(1)
OVERSIZE = const(2)


class WrapperError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Rx:
    def __init__(self, max_apdu):
        self.max_apdu = max_apdu
        self.buf = bytearray(HEADER + max_apdu)
        self.n = 0  # bytes of the current frame held
        self.need = HEADER  # bytes needed to complete the header, then the frame
        self.hdr = False

    def feed(self, data, pos, end):
        """Take bytes from data[pos:end] up to the end of one frame; returns the new pos. When
        self.ready(), the frame is complete: read src/dst/apdu, then call reset()."""
        buf = self.buf
        while pos < end and self.n < self.need:
            k = min(end - pos, self.need - self.n)
            buf[self.n:self.n + k] = data[pos:pos + k]
            self.n += k
            pos += k
            if self.n == HEADER and not self.hdr:
                ver, _, _, ln = struct.unpack_from(">HHHH", buf, 0)
                if ver != VERSION:
                    self.reset()
                    raise WrapperError(BAD_VERSION)
                if ln > self.max_apdu:
                    self.reset()
                    raise WrapperError(OVERSIZE)
                self.need = HEADER + ln
                self.hdr = True
        return pos

    def ready(self):
        return self.hdr and self.n == self.need

    def src(self):
        return struct.unpack_from(">H", self.buf, 2)[0]

    def dst(self):
        return struct.unpack_from(">H", self.buf, 4)[0]

    def apdu_len(self):
        return self.need - HEADER

    def reset(self):
        self.n = 0
        self.need = HEADER
        self.hdr = False


def put_header(buf, src, dst, n):
    """Write the 8-byte header for an n-byte APDU at buf[0:8] (the APDU follows at buf[8:])."""
    struct.pack_into(">HHHH", buf, 0, VERSION, src, dst, n)
