# MicroPython test server: serves the DLMS cores over TCP on 127.0.0.1 with the sample model.
#   micropython dlms_test_server.py wrapper PORT     IEC 62056-47 TCP wrapper
#   micropython dlms_test_server.py hdlc PORT        raw HDLC bytes over TCP (a test bridges a pty)
# MICROPYPATH must hold firmware/ and tests/dlms/. Prints "READY <port>" once listening, then one
# line per action other than SEND ("ACT STORE tx_ic 256", "ACT EVENT 5 ...", "ACT NEW_KEY 0" ...;
# key material is never printed). Exits on "quit" on stdin or when stdin closes.
import sys
import socket
import select
import time

from meter.cores.dlms import actions as X
from meter.cores.dlms.server import Application, TcpServer, HdlcServer
from meter.cores.dlms.hdlc import Link
from meter.cores.dlms.association import SecState
from meter.common.lockout import Lockout
import sample_model as M

try:
    import os
    urandom = os.urandom
except (ImportError, AttributeError):
    import random

    def urandom(n):
        return bytes(random.getrandbits(8) for _ in range(n))

MASK = 0x3FFFFFFF


def now_ms():
    return time.ticks_ms() & MASK


def main():
    mode = sys.argv[1]
    port = int(sys.argv[2])
    max_pdu = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    keys = M.make_keys()
    state = M.initial_state()
    t0 = time.time()
    base = M.timeutil.to_secs(2025, 6, 1, 12, 0, 0)

    def clock_now():
        return base + int(time.time() - t0)

    reg = M.build(state, keys, clock_now)
    sec = SecState()
    lock = Lockout()

    def new_server():
        app = Application(reg, M.clients(), keys, sec, lock, urandom, max_pdu=max_pdu)
        if mode == "wrapper":
            return TcpServer(app, inactivity_ms=600000)
        return HdlcServer(app, Link(upper=1, lower=None, max_info=512, max_apdu=max_pdu + 64,
                                    inactivity_ms=600000))

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    ls.listen(4)
    poller = select.poll()
    poller.register(ls, select.POLLIN)
    poller.register(sys.stdin, select.POLLIN)
    conns = {}  # id(sock) -> (sock, server)
    print("READY", port)
    last_poll = now_ms()

    def run(sock, srv, acts):
        for a in acts:
            k = a[0]
            if k == X.SEND:
                data = bytes(a[1])
                try:
                    while data:
                        n = sock.send(data)
                        data = data[n:]
                except OSError:  # the peer went away (EPIPE, ECONNRESET)
                    close(sock, srv)
                    return
            elif k == X.CLOSE:
                close(sock, srv)
                print("ACT CLOSE")
            elif k == X.NEW_KEY:
                if a[1] == 0:
                    keys.ek = a[2]
                elif a[1] == 2:
                    keys.ak = a[2]
                print("ACT NEW_KEY", a[1])
            elif k == X.SECRET:
                keys.lls[a[1]] = a[2]
                print("ACT SECRET", a[1])
            elif k == X.STORE:
                print("ACT STORE", a[1], a[2] if a[1] != "lockout" else "")
            elif k == X.EVENT:
                print("ACT EVENT", a[1], a[2], a[3])

    def close(sock, srv):
        key = id(sock)
        if key in conns:
            del conns[key]
            poller.unregister(sock)
            sock.close()

    while True:
        for obj, ev in poller.poll(100):
            if obj is ls:
                s, _ = ls.accept()
                srv = new_server()
                conns[id(s)] = (s, srv)
                poller.register(s, select.POLLIN)
                continue
            if obj is sys.stdin:
                line = sys.stdin.readline()
                if not line or line.strip() == "quit":
                    for s, srv in list(conns.values()):
                        s.close()
                    ls.close()
                    return
                if line.strip() == "state":
                    print("STATE", repr(sorted(state.items())))
                continue
            ent = None
            for s, srv in conns.values():
                if s is obj:
                    ent = (s, srv)
                    break
            if ent is None:
                continue
            s, srv = ent
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                acts = srv.close() if mode == "wrapper" else srv.receive(b"", now_ms())
                run(s, srv, acts)
                close(s, srv)
                continue
            run(s, srv, srv.receive(data, now_ms()))
        t = now_ms()
        if ((t - last_poll) & MASK) > 1000:
            last_poll = t
            for s, srv in list(conns.values()):
                run(s, srv, srv.poll(t))


main()
