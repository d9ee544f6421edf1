"""Benchmark of the DLMS/COSEM server cores (firmware/meter/cores/dlms) with the sample model.

    .venv/bin/python -m host_tools.bench_dlms [--n N] [--no-callgrind]

On the 32-bit interpreter (unix32), with callgrind: the instructions to serve
  * one GET of a register through the REAL mapping (services/cosem_model.py on MeterClock, the
    register table and SupplyControl: tests/mp/dlms_meter.py), and the heap with it on;
  * one GET of a register over the TCP wrapper (frame in -> response frame out), public client;
  * one GET of a register, glo-ciphered (AES-GCM, HLS-GMAC management association);
  * one block of the 1000-entry profile generic buffer (get-request-next, 1024-byte PDU);
  * one GET of a register over HDLC (I-frame in -> I-frame out);
  * the same through the optical port in IEC 62056-21 mode E (OpticalPort.poll -> HdlcLine ->
    HdlcServer, the real mapping), the UART a stub;
as (Ir of a run sending N requests - Ir of the same run sending none) / N; and the heap of a server instance
(Application + TcpServer, 1024-byte PDU) and the heap allocated per request (gc.mem_alloc).
`make bench` (host_tools/bench.py) calls main().
"""
import argparse
import os
import re
import shutil
import subprocess

from host_tools import benchutil
from host_tools.benchutil import INTERPRETERS, ROOT

SCRIPT = r"""
import sys, gc, struct
sys.path.append("tests/mp"); sys.path.append("tests/dlms")
import dlms_client as C
import sample_model as M
import metercrypto as mc
from meter.cores.dlms.server import Application, TcpServer, HdlcServer
from meter.cores.dlms.hdlc import Link
from meter.cores.dlms.association import SecState
from meter.common.lockout import Lockout
from dlms_client import frame
n = int(sys.argv[1]); what = sys.argv[2]; send = int(sys.argv[3])  # build n, send `send`
keys = M.make_keys(); st = M.initial_state()
reg = M.build(st, keys, lambda: 100000000)
rnd = lambda k: bytes(k)
gc.collect(); h0 = gc.mem_alloc()
app = Application(reg, M.clients(), keys, SecState(), Lockout(), rnd, max_pdu=1024)
srv = TcpServer(app)
gc.collect(); print("HEAP", gc.mem_alloc() - h0)
if what == "model":  # the REAL mapping (services/cosem_model.py) on the meter's services
    del srv, app, reg
    import dlms_meter
    gc.collect(); h0 = gc.mem_alloc()
    mm = dlms_meter.Meter()
    srv = TcpServer(mm.app)
    gc.collect(); print("MODEL", gc.mem_alloc() - h0)
    srv.receive(C.wrap(C.aarq()), 0)
    reqs = [C.wrap(C.get(3, bytes((1, 0, 1, 8, 1, 255)), 2))] * n
ENERGY = bytes((1, 0, 1, 8, 0, 255))
PG = bytes((1, 0, 99, 1, 0, 255))
if what == "get":
    srv.receive(C.wrap(C.aarq()), 0)
    req = C.wrap(C.get(3, ENERGY, 2))
    reqs = [req] * n
elif what == "glo":
    def glo(tag, ic, apdu):
        iv = M.CLIENT_TITLE + struct.pack(">I", ic)
        ct, t = mc.gcm_encrypt(M.EK, iv, b"\x30" + M.AK, apdu, 12)
        c = b"\x30" + struct.pack(">I", ic) + ct + t
        return bytes((tag, len(c))) + c
    r = srv.receive(C.wrap(C.aarq(context=3, mech=5, title=M.CLIENT_TITLE, auth=b"12345678",
                                  ui=glo(0x21, 1, C.initiate_request())), 1), 0)
    sa = C.parse_aare(C.unwrap(bytes(r[-1][1])))
    t = mc.gcm_encrypt(M.EK, M.CLIENT_TITLE + struct.pack(">I", 2), b"\x10" + M.AK + sa["stoc"], b"", 12)[1]
    f = b"\x10" + struct.pack(">I", 2) + t
    srv.receive(C.wrap(glo(0xCB, 3, C.action(15, bytes((0, 0, 40, 0, 0, 255)), 1, C.octets(f))), 1), 0)
    reqs = [C.wrap(glo(0xC8, 10 + i, C.get(3, ENERGY, 2)), 1) for i in range(n)]
elif what == "block":
    srv.receive(C.wrap(C.aarq()), 0)
    srv.receive(C.wrap(C.get(7, PG, 2)), 0)
    reqs = [C.wrap(C.get_next(1 + i)) for i in range(n)]
elif what == "hdlc":
    link = Link(upper=1, max_info=256, max_apdu=1100)
    hs = HdlcServer(app, link)
    hs.receive(frame(b"\x03\x21", 0x93), 0)
    hs.receive(frame(b"\x03\x21", 0x10, b"\xe6\xe6\x00" + C.aarq()), 0)
    reqs = [frame(b"\x03\x21", 0x10 | (((i + 1) & 7) << 1) | (((i + 1) & 7) << 5), b"\xe6\xe6\x00" + C.get(3, ENERGY, 2)) for i in range(n)]
    srv = hs
elif what == "optical":  # mode E: OpticalPort -> HdlcLine (ports/dlms.py) -> HdlcServer, real mapping
    del srv, app, reg
    import dlms_meter
    from meter.ports.dlms import DlmsPort
    from meter.ports.optical import OpticalPort
    from meter.cores.iec62056_21.session import Session
    from meter.cores.dlms.security import Keys
    from meter.cores.dlms.association import Client
    mm = dlms_meter.Meter()
    class U:  # the optical UART: serves one preloaded request, counts the writes
        src = b""; pos = 0; sent = 0; ms = 0
        def init(s, baudrate=0, bits=8, parity=None, stop=1): pass
        def any(s): return len(s.src) - s.pos
        def readinto(s, buf):
            k = min(len(buf), len(s.src) - s.pos); p = s.pos; src = s.src
            for i in range(k): buf[i] = src[p + i]
            s.pos = p + k; return k
        def write(s, b): s.sent += 1; return len(b)
        def ticks_ms(s): return s.ms
    u = U()
    dp = DlmsPort(mm.reg, Keys(b"OMT\0\0\0\0\1"), [Client(16)], u, None, None, mm.clock)
    sess = Session(lambda: iter(()), mode_e=True, rand=lambda k: bytes(k))
    port = OpticalPort(u, sess, mm.clock, None, ticks=u, hdlc=dp.hdlc())
    def line(data, ms):
        u.src = data; u.pos = 0; u.ms += ms; port.poll(u.ms)
    line(b"/?!\r\n", 0); line(b"", 300); line(b"", 1000)
    line(b"\x06252\r\n", 100); line(b"", 100)
    assert port.binary
    line(frame(b"\x03\x21", 0x93), 10)
    line(frame(b"\x03\x21", 0x10, b"\xe6\xe6\x00" + C.aarq()), 10)
    reqs = [frame(b"\x03\x21", 0x10 | (((i + 1) & 7) << 1) | (((i + 1) & 7) << 5), b"\xe6\xe6\x00" + C.get(3, bytes((1, 0, 1, 8, 1, 255)), 2)) for i in range(n)]
    class P:
        SENT = [(1,)]
        def receive(s, q, now):
            w = u.sent; u.src = q; u.pos = 0; port.poll(u.ms)
            assert u.sent == w + 1
            return s.SENT
    srv = P()
gc.collect(); a0 = gc.mem_alloc()
gc.disable()
for q in reqs[:send]:
    acts = srv.receive(q, 0)
a1 = gc.mem_alloc()
gc.enable()
assert send == 0 or acts[-1][0] == 1
print("ALLOC", (a1 - a0) // max(send, 1))
"""


def run(interp, n, what, wrap=(), send=None):
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:" + os.path.join(ROOT, "firmware")  # .frozen: asyncio (ports/dlms)
    cmd = list(wrap) + [INTERPRETERS[interp], "-X", "heapsize=4M", "-c", SCRIPT, str(n), what,
                                 str(n if send is None else send)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (interp, p.stderr[-2000:]))
    return p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args(argv)
    cg = shutil.which("valgrind") and not a.no_callgrind
    p = run("unix32", a.n, "get")
    print("server instance heap (Application + TcpServer, 1024-byte PDU, unix32): %s bytes"
          % re.search(r"HEAP (\d+)", p.stdout).group(1))
    pm = run("unix32", a.n, "model")
    print("DLMS server on (services + real COSEM mapping + Application + TcpServer, unix32): %s bytes"
          % re.search(r"MODEL (\d+)", pm.stdout).group(1))
    for what, label in (("model", "GET register, real mapping (cosem_model), TCP"),
                        ("get", "GET register, TCP wrapper, public"),
                        ("glo", "GET register, glo-ciphered (AES-GCM)"),
                        ("block", "one profile block (get-request-next, ~1000 bytes)"),
                        ("hdlc", "GET register, HDLC I-frame"),
                        ("optical", "GET register, mode E optical port, HDLC, real mapping")):
        alloc = re.search(r"ALLOC (-?\d+)", run("unix32", a.n, what).stdout).group(1)
        line = "%-52s heap/request %5s B" % (label, alloc)
        if cg:
            ir1 = benchutil.callgrind_ir(lambda w: run("unix32", a.n, what, w))
            ir0 = benchutil.callgrind_ir(lambda w: run("unix32", a.n, what, w, 0))
            line += "   %9d instructions/request" % ((ir1 - ir0) // a.n)
        print(line, flush=True)


if __name__ == "__main__":
    main()
