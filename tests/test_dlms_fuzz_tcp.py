"""Fuzz the MicroPython DLMS test server over TCP: >= 10^4 random and mutated frames per
transport (TCP wrapper; raw HDLC), from several connections. The server must survive, change
nothing (no write/action/key/secret action, sample state unchanged) and still serve a gurux
client afterwards. Mutations are generated here with a fixed seed."""
import os
import random
import socket
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dlms"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "mp"))

import dlms_client as C  # noqa: E402  (plain byte builders, also valid CPython)
from peer import DlmsTestServer, Gx, SockIO, gurux_client  # noqa: E402
from gurux_dlms.objects import GXDLMSRegister  # noqa: E402

pytestmark = pytest.mark.timeout(600)
TEXT = bytes((0, 0, 96, 13, 0, 255))
SEEDS = [C.aarq(), C.aarq(mech=1, auth=b"abcdefgh"), C.get(3, bytes((1, 0, 1, 8, 0, 255)), 2),
         C.get(7, bytes((1, 0, 99, 1, 0, 255)), 2), C.set_(1, TEXT, 2, C.octets(b"fuzz")),
         C.action(70, bytes((0, 0, 96, 3, 10, 255)), 1, b"\x0f\x00"), C.get_next(1), C.rlrq(),
         b"\x01\x01" * 30]


def hdlc_frame(ctrl, info=b""):
    return C.frame(b"\x03\x21", ctrl, info)


def mutate(r, b):
    b = bytearray(b)
    for _ in range(r.randint(1, 3)):
        if not b:
            b.append(r.randrange(256))
            continue
        i = r.randrange(len(b))
        op = r.randrange(5)
        if op == 0:
            b[i] ^= 1 << r.randrange(8)
        elif op == 1:
            b[i] = r.choice((0, 1, 0x7f, 0x80, 0x82, 0x84, 0xff, r.randrange(256)))
        elif op == 2:
            del b[i]
        elif op == 3:
            b.insert(i, r.randrange(256))
        else:
            del b[i:]
    return bytes(b)


def drain(s):
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, BlockingIOError, ConnectionError, OSError):
        pass


@pytest.mark.parametrize("mode", ["wrapper", "hdlc"])
def test_fuzz_over_tcp(mode):
    r = random.Random(4059)
    with DlmsTestServer(mode, "unix32", max_pdu=512) as srv:
        state0 = srv.state()
        sent = 0
        conns = 0
        while sent < 10400 and conns < 3000:
            conns += 1
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.settimeout(0.0)
            for i in range(520):
                apdu = mutate(r, r.choice(SEEDS)) if r.random() < 0.9 else os.urandom(r.randrange(40))
                if mode == "wrapper":
                    f = C.wrap(apdu, r.choice((16, 16, 1, 7)))
                    if r.random() < 0.2:
                        f = mutate(r, f)
                else:
                    k = r.random()
                    if k < 0.1:
                        f = hdlc_frame(0x93)
                    elif k < 0.8:
                        f = hdlc_frame(0x10 | (r.randrange(8) << 1) | (r.randrange(8) << 5), b"\xe6\xe6\x00" + apdu)
                    else:
                        f = mutate(r, hdlc_frame(r.choice((0x93, 0x11, 0x53)), apdu[:10]))
                try:
                    s.sendall(f)
                except OSError:
                    break  # the server closed this connection (framing error): a new one next
                sent += 1
                if i % 16 == 0:
                    drain(s)
            drain(s)
            s.close()
            assert srv.alive()
        assert sent >= 10000
        assert srv.state() == state0
        bad = [x for x in srv.actions() if x.startswith(("ACT NEW_KEY", "ACT SECRET", "ACT EVENT 5 ", "ACT EVENT 6 "))]
        assert bad == []
        if mode == "wrapper":
            g = Gx(SockIO(srv.port), gurux_client("wrapper", 16))
            g.connect()
            reg = GXDLMSRegister("1.0.1.8.0.255")
            g.read(reg, 2)
            assert reg.value == 1234567
            g.close()
    assert srv.proc.returncode == 0, srv.stderr
