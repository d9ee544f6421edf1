# MicroPython: one Application over the sample model, APDUs on stdin as "<sap> <hex>" lines,
# answers on stdout as "<hex>" (or "-" for none) followed by the actions' kinds. For the
# CPython crypto tests (cryptography as the oracle).
import sys
import binascii

import metercrypto

sys.path.append("tests/mp")
from dlms_harness import H  # noqa: E402

h = H()
while True:
    line = sys.stdin.readline()
    if not line:
        break
    sap, hx = line.split()
    r = h.x(binascii.unhexlify(hx), int(sap))
    # a NEW_KEY shows as kind:id:sha256-prefix of the key (keys are never printed)
    print(binascii.hexlify(r).decode() if r is not None else "-",
          " ".join("%d:%s" % (a[0], a[1]) if a[0] != 4 else
                   "4:%d:%s" % (a[1], binascii.hexlify(metercrypto.sha256(a[2])[:8]).decode())
                   for a in h.acts))
