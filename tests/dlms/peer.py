"""CPython side of the DLMS peer tests: start/stop the MicroPython test server, bridge a pty to
its HDLC port, and drive the UNMODIFIED gurux-dlms client over a socket (TCP wrapper) or a
serial port (pyserial on the pty, HDLC). The read loop follows gurux's own sample reader
(GXDLMSReader.readDLMSPacket/readDataBlock): send, then feed received bytes to
client.getData() until a frame is complete, and ask for more blocks/segments with
receiverReady() while reply.isMoreData()."""
import os
import select
import socket
import subprocess
import threading
import time
import tty

import serial

from gurux_dlms import GXByteBuffer, GXReplyData, GXDLMSClient, GXDLMSException
from gurux_dlms.enums import InterfaceType, Authentication, Security
from gurux_dlms.secure import GXDLMSSecureClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERP = {
    "unix": os.path.join(ROOT, "build", "unix", "micropython"),
    "unix32": os.path.join(ROOT, "build", "unix32", "micropython"),
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class DlmsTestServer:
    """The MicroPython DLMS test server as a context manager; .lines collects its output."""

    def __init__(self, mode, interp="unix32", max_pdu=1024):
        self.mode = mode
        self.port = free_port()
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([os.path.join(ROOT, "firmware"), os.path.join(ROOT, "tests", "dlms")])
        self.proc = subprocess.Popen(
            [INTERP[interp], "-X", "heapsize=2M", os.path.join(ROOT, "tests", "dlms", "dlms_test_server.py"),
             mode, str(self.port), str(max_pdu)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        self.lines = []
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        if not self._ready.wait(20):
            self.stop()
            raise RuntimeError("test server did not start: %s" % self.proc.stderr.read())

    def _reader(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("READY"):
                self._ready.set()

    def alive(self):
        return self.proc.poll() is None

    def state(self):
        n = len(self.lines)
        self.proc.stdin.write("state\n")
        self.proc.stdin.flush()
        for _ in range(200):
            for line in self.lines[n:]:
                if line.startswith("STATE "):
                    return line[6:]
            time.sleep(0.02)
        raise RuntimeError("no state")

    def actions(self, prefix="ACT "):
        return [x for x in self.lines if x.startswith(prefix)]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stderr = self.proc.stderr.read()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


class PtyBridge:
    """A pty pair whose master is relayed to the server's raw HDLC TCP port; open .slave with
    pyserial."""

    def __init__(self, port):
        self.master, slave_fd = os.openpty()
        tty.setraw(slave_fd)
        self.slave = os.ttyname(slave_fd)
        self._slave_fd = slave_fd
        self.sock = socket.create_connection(("127.0.0.1", port))
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            r, _, _ = select.select([self.master, self.sock], [], [], 0.1)
            if self.master in r:
                try:
                    d = os.read(self.master, 4096)
                except OSError:
                    break
                self.sock.sendall(d)
            if self.sock in r:
                d = self.sock.recv(4096)
                if not d:
                    break
                os.write(self.master, d)

    def close(self):
        self._stop = True
        self._t.join(2)
        self.sock.close()
        os.close(self.master)
        os.close(self._slave_fd)


class SockIO:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(5)

    def send(self, b):
        self.s.sendall(bytes(b))

    def recv(self):
        d = self.s.recv(4096)
        if not d:
            raise ConnectionError("closed")
        return d

    def close(self):
        self.s.close()


class SerialIO:
    def __init__(self, dev):
        self.s = serial.Serial(dev, 9600, timeout=5)

    def send(self, b):
        self.s.write(bytes(b))

    def recv(self):
        d = self.s.read(1)
        if not d:
            raise TimeoutError("no answer")
        return d + self.s.read(self.s.in_waiting)

    def close(self):
        self.s.close()


class Gx:
    """A gurux-dlms client session."""

    def __init__(self, io, client):
        self.io = io
        self.c = client

    def packet(self, data, reply):
        if not data:
            return
        notify = GXReplyData()
        reply.error = 0
        self.io.send(data)
        rd = GXByteBuffer()
        while not self.c.getData(rd, reply, notify):
            rd.set(self.io.recv())
        if reply.error != 0:
            raise GXDLMSException(reply.error)

    def block(self, data, reply):
        if isinstance(data, list):
            for it in data:
                reply.clear()
                self.block(it, reply)
            return
        self.packet(data, reply)
        while reply.isMoreData():
            self.packet(self.c.receiverReady(reply), reply)

    def connect(self):
        reply = GXReplyData()
        if self.c.interfaceType == InterfaceType.HDLC:
            self.packet(self.c.snrmRequest(), reply)
            self.c.parseUAResponse(reply.data)
            reply.clear()
        self.block(self.c.aarqRequest(), reply)
        self.c.parseAareResponse(reply.data)
        reply.clear()
        if self.c.getIsAuthenticationRequired():
            for it in self.c.getApplicationAssociationRequest():
                self.block(it, reply)
            self.c.parseApplicationAssociationResponse(reply.data)

    def read(self, obj, attr):
        reply = GXReplyData()
        self.block(self.c.read(obj, attr), reply)
        return self.c.updateValue(obj, attr, reply.value)

    def write(self, obj, attr):
        reply = GXReplyData()
        self.block(self.c.write(obj, attr), reply)
        return reply

    def method(self, obj, index, data, type_):
        reply = GXReplyData()
        self.block(self.c.method(obj, index, data, type_), reply)
        return reply

    def rows_by_range(self, pg, start, end, columns=None):
        reply = GXReplyData()
        self.block(self.c.readRowsByRange(pg, start, end, columns), reply)
        return self.c.updateValue(pg, 2, reply.value)

    def rows_by_entry(self, pg, index, count, columns=None):
        reply = GXReplyData()
        self.block(self.c.readRowsByEntry(pg, index, count, columns), reply)
        return self.c.updateValue(pg, 2, reply.value)

    def objects(self):
        reply = GXReplyData()
        self.block(self.c.getObjectsRequest(), reply)
        return self.c.parseObjects(reply.data, True)

    def close(self):
        reply = GXReplyData()
        try:
            self.block(self.c.releaseRequest(), reply)
        except (GXDLMSException, ConnectionError, TimeoutError):
            pass
        if self.c.interfaceType == InterfaceType.HDLC:
            reply.clear()
            self.packet(self.c.disconnectRequest(), reply)
        self.io.close()


def gurux_client(iface, sap, auth=Authentication.NONE, password=None, security=Security.NONE,
                 ek=None, ak=None, title=None, server_address=1):
    iface = InterfaceType.WRAPPER if iface == "wrapper" else InterfaceType.HDLC
    if security != Security.NONE or auth == Authentication.HIGH_GMAC:
        c = GXDLMSSecureClient(True, sap, server_address, auth, password, iface)
        ci = c.settings.cipher
        ci.security = security
        ci.systemTitle = bytearray(title)
        ci.blockCipherKey = bytearray(ek)
        ci.authenticationKey = bytearray(ak)
    else:
        c = GXDLMSClient(True, sap, server_address, auth, password, iface)
    return c
