"""Firmware update figures (issue 18), on the 32-bit Unix build under callgrind:

- receiving and verifying a 200 KB package: staging in 112-byte chunks (each file hashed as it
  arrives, the signature checked when the manifest is complete), then the commit (signature and
  every file hash again from the staging file, the install into the other slot, the read-back);
  instructions minus a baseline run that only loads the modules and the package
- the same package over DLMS image transfer (services/cosem_image.py): initiate, 512-byte
  image_block_transfer calls, image_verify, image_activate (which verifies once more and switches)
- one Ed25519 verification (metercrypto.ed25519_verify on a 1.5 KB manifest)
- the .mpy size of the update code (services/update.py, services/cosem_image.py, common/legal.py,
  bootsel.py)
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from host_tools.benchutil import INTERPRETERS, ROOT, callgrind_ir
from host_tools.update import keys as K
from host_tools.update import package as P
from meter.common import legal

SCRIPT = r"""
import sys, os, json
sys.path.insert(0, "firmware")
from meter.services import update as U
from meter.common.events import EventLog
import bootsel
job = json.load(open(sys.argv[1]))
data = open(job["package"], "rb").read()
class C:
    def now(self): return 1000
class Keys:
    def get(self, n): return bytes.fromhex(job["key"]) if n == "update_key" else None
s = U.UpdateService(job["root"], job["want"], EventLog(8), C(), running=("0", 0, "1.0.0", job["legal"]),
                    keys=Keys())
s.boot(bootsel.read(job["root"]), 1000)
mode = job["mode"]
if mode == "update":
    for i in range(0, len(data), 112):
        s.stage(data[i:i + 112], i)
    s.commit("%08X" % U.crc32(data))
elif mode == "dlms":
    from meter.services import cosem_image as CI
    from meter.cores.dlms import axdr
    it = CI.ImageTransfer(s)
    it.initiate((axdr.STRUCTURE, ((axdr.OCTET_STRING, b"bench"), (axdr.DOUBLE_LONG_UNSIGNED, len(data)))))
    for n in range((len(data) + CI.BLOCK - 1) // CI.BLOCK):
        it.block((axdr.STRUCTURE, ((axdr.DOUBLE_LONG_UNSIGNED, n),
                                   (axdr.OCTET_STRING, data[n * CI.BLOCK:(n + 1) * CI.BLOCK]))))
    it.verify((axdr.INTEGER, 0))
    it.activate((axdr.INTEGER, 0))
    assert s.reset_due
elif mode == "verify":
    import metercrypto
    man = data[9 + 65:9 + 65 + int.from_bytes(data[4:8], "little")]
    assert metercrypto.ed25519_verify(bytes.fromhex(job["key"]), man, data[10:74])
"""


def _tree(size=200 * 1024):
    t = {m + ".mpy": b"legal " + m.encode() for m in legal.MODULES}
    i = 0
    while sum(len(v) for v in t.values()) < size:
        t["meter/x/m%03d.mpy" % i] = hashlib.sha256(b"%d" % i).digest() * 64  # 2 KB
        i += 1
    return t


def _ir(job, mode, d):
    job = dict(job, mode=mode)
    root = os.path.join(d, "fw")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "a"))
    with open(os.path.join(root, "boot"), "w") as f:
        f.write("a a ok 0\n")
    job["root"] = root
    jp = os.path.join(d, "job.json")
    with open(jp, "w") as f:
        json.dump(job, f)
    sp = os.path.join(d, "bench.py")
    with open(sp, "w") as f:
        f.write(SCRIPT)
    return callgrind_ir(lambda wrap: subprocess.run(list(wrap) + [INTERPRETERS["unix32"], sp, jp],
                                                    capture_output=True, text=True, cwd=ROOT))


def main():
    key = Ed25519PrivateKey.generate()
    tree = _tree()
    data = P.sign(P.build(tree, "unix_sim", "1.0.0", 1, micropython="1.25.0", mpy="6.3"), key)
    with tempfile.TemporaryDirectory() as d:
        pk = os.path.join(d, "p.mup")
        with open(pk, "wb") as f:
            f.write(data)
        job = {"package": pk, "key": K.public_hex(key), "legal": P.legal_checksum(tree),
               "want": {"board": "unix_sim", "micropython": "1.25.0", "mpy": "6.3"}}
        base = _ir(job, "none", d)
        upd = _ir(job, "update", d)
        dlms = _ir(job, "dlms", d)
        ver = _ir(job, "verify", d)
    print("package: %d bytes, %d files, manifest %d bytes" % (len(data), len(tree), len(P.parse(data)[2])))
    print("unix32: stage + verify + install + read-back of the package: %.1f M instructions "
          "(%.1f instructions/byte)" % ((upd - base) / 1e6, (upd - base) / len(data)))
    print("unix32: the same over DLMS image transfer (512-byte blocks, verify, activate): %.1f M "
          "instructions (%.1f instructions/byte)" % ((dlms - base) / 1e6, (dlms - base) / len(data)))
    print("unix32: one ed25519_verify of the manifest: %.2f M instructions" % ((ver - base) / 1e6))
    total = 0
    with tempfile.TemporaryDirectory() as d:
        for rel in ("firmware/meter/services/update.py", "firmware/meter/services/cosem_image.py",
                    "firmware/meter/common/legal.py", "firmware/bootsel.py"):
            out = os.path.join(d, "x.mpy")
            subprocess.run([P.MPY_CROSS, "-msmall-int-bits=31", "-o", out, os.path.join(ROOT, rel)], check=True)
            n = os.path.getsize(out)
            total += n
            print(".mpy %-40s %6d bytes" % (rel, n))
    print(".mpy update code total %d bytes" % total)


if __name__ == "__main__":
    main()
