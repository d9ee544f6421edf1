# A DLMS Application over the sample model, driven APDU by APDU (MicroPython tests).
import sys

if "tests/dlms" not in sys.path:
    sys.path.append("tests/dlms")

import sample_model as M  # noqa: E402
from meter.cores.dlms.server import Application, PRE  # noqa: E402
from meter.cores.dlms.association import SecState  # noqa: E402
from meter.common.lockout import Lockout  # noqa: E402


class H:
    def __init__(self, max_pdu=1024, now=0):
        self.keys = M.make_keys()
        self.state = M.initial_state()
        self.reg = M.build(self.state, self.keys, lambda: 100000000)
        self.sec = SecState()
        self.lock = Lockout()
        self.n = 0

        def rand(n):
            self.n += 1
            return bytes(((self.n * 31 + i * 7) & 255 for i in range(n)))

        self.app = Application(self.reg, M.clients(), self.keys, self.sec, self.lock, rand, max_pdu=max_pdu)
        self.now = now
        self.acts = []

    def x(self, apdu, sap=16):
        """-> response bytes (None if none); self.acts holds the actions."""
        self.acts = []
        buf = bytearray(apdu)
        r = self.app.handle(buf, 0, len(buf), sap, self.now, self.acts)
        if r is None:
            return None
        s, n = r
        return bytes(self.app.tx[s:s + n])

    def kinds(self, k):
        return [a for a in self.acts if a[0] == k]
