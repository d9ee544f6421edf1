# The unix_sim board's link to the virtual rig (host_tools/rig.py): one loopback TCP connection,
# one ASCII line per message, hex for bytes (the protocol is in board.py's header). Link does the
# I/O; RigLink dispatches the rig's commands to the board's simulated devices and to the app's
# simulation hooks (meter/app/sim.py).
import gc
import sys
import time
import json
import socket
import binascii
import asyncio
import io

_HEX = b"0123456789abcdef"


class Link(io.IOBase):
    """The loopback TCP link to the rig. Writes are immediate (loopback); reads are handled by the
    RigLink task, which dispatches commands. As a stream (write(), flush()), it gathers bytes in its
    line buffer: json.dump() of a reply goes out in line-sized pieces, no reply-sized string."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        ai = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], ai[1], ai[2])
        s.connect(ai[-1])
        s.setblocking(False)
        self.sock = s
        self.stream = asyncio.StreamReader(s)
        self.pending = b""
        # a line of hex built in place: a 96 KB heap (the frozen proxy) has no room for a 600-byte
        # string per UART chunk once it is fragmented
        self._line = bytearray(16 + 2 * self.HEX_MAX + 1)
        self._mv = memoryview(self._line)
        self._wpos = 0  # bytes gathered by write()
        self._wsent = False  # part of the line being written went out already

    HEX_MAX = 128  # data bytes per line (longer writes become several lines; a small line buffer)

    def send(self, text):
        self._out(text.encode())

    def send_bytes(self, prefix, data):
        line = self._line
        mv = self._mv
        p = len(prefix)
        for i in range(p):
            line[i] = ord(prefix[i])
        n = len(data)
        off = 0
        while True:
            k = n - off if n - off < self.HEX_MAX else self.HEX_MAX
            j = p
            for i in range(off, off + k):
                c = data[i]
                line[j] = _HEX[c >> 4]
                line[j + 1] = _HEX[c & 15]
                j += 2
            line[j] = 10
            self._out(mv[:j + 1])
            off += k
            if off >= n:
                return

    def write(self, b):
        line = self._line
        p = self._wpos
        for c in b:
            if p == len(line):
                self._out(self._mv[:p])
                self._wsent = True
                p = 0
            line[p] = c
            p += 1
        self._wpos = p
        return len(b)

    def flush(self):
        if self._wpos:
            self._out(self._mv[:self._wpos])
            self._wpos = 0
        self._wsent = False

    def drop(self):
        """Abandon the line being written (its producer failed): what is buffered is dropped, a
        part already sent is ended, so the next line starts clean."""
        self._wpos = 0
        if self._wsent:
            self._out(b"\n")
        self._wsent = False

    def _out(self, b):
        if self.pending:
            self.pending += b
            self._try_flush()
            return
        try:
            n = self.sock.write(b)
        except OSError:
            n = 0
        if n is None:
            n = 0
        if n < len(b):
            self.pending = bytes(b[n:])

    def _try_flush(self):
        try:
            n = self.sock.write(self.pending)
        except OSError:
            n = 0
        if n:
            self.pending = self.pending[n:]

    def flush_blocking(self):
        while self.pending:
            self._try_flush()
            if self.pending:
                time.sleep_ms(1)




class RigLink:
    """Serves the rig's commands: input bytes and pins, loads, virtual time, queries and commands
    to the app hooks, fault injection, load schedules."""

    def __init__(self, board):
        self.board = board
        self.link = board.link
        self.hooks = None  # app/sim.py SimHooks, attached by main.py

    async def run(self):
        link = self.link
        link.send("hello unix_sim %d\n" % self.board.clock.sim_ms())
        while True:
            if link.pending:
                link._try_flush()
            w = None
            try:
                line = await link.stream.readline()
                if not line:
                    sys.exit(0)  # the rig went away: power is off
                w = line.decode().split()
                self._command(w)
            except Exception as e:  # a bad command (or MemoryError) must not stop the meter
                self._fail(w, e)

    def _fail(self, w, e):
        """Answer a command that failed: "err <seq> <Type>: <text>" so the rig's waiter fails at
        once. Out of heap (the line itself may not fit), the answer is the exception type alone,
        and a line lost while reading it (no seq known) is "err * ...": every waiter fails."""
        link = self.link
        try:
            sys.print_exception(e)
            msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")
        except MemoryError:
            gc.collect()
            msg = "MemoryError"
        if w and len(w) > 1 and w[0] != "rx":
            link.send("err " + w[1] + " " + msg + "\n")  # the rig's waiter gets an answer
        elif w is None:
            link.send("err * " + msg + "\n")
        else:
            link.send("log link error: " + msg + "\n")

    def _reply(self, seq, extra=None):
        if extra is None:
            self.link.send("ok %s %d\n" % (seq, self.board.clock.sim_ms()))
        else:
            link = self.link
            link.write(("ok %s %d " % (seq, self.board.clock.sim_ms())).encode())
            try:  # streamed: a big reply (radio frames) needs no reply-sized string
                json.dump(extra, link)
                link.write(b"\n")
            except MemoryError:
                link.drop()
                raise  # run() answers "err"
            link.flush()

    def _command(self, w):
        if not w:
            return
        cmd = w[0]
        if cmd == "rx":
            u = self.board._uarts.get(w[1])
            if u:
                u._feed(binascii.unhexlify(w[2]))
        elif cmd == "load":
            seq = w[1]
            self.board.afe_sim.set_load(int(w[2]), int(w[3]), int(w[4]), int(w[5]), int(w[6]), self.board.clock.sim_ms())
            self._reply(seq)
        elif cmd == "adv":
            seq, ms = w[1], int(w[2])
            if self.hooks:
                self.hooks.fast_forward(ms)
            else:
                self.board.clock.jump(ms)
            self._reply(seq)
        elif cmd == "pin":
            seq, name, v = w[1], w[2], int(w[3])
            self.board._pins[name]._set_input(v)
            self._reply(seq)
        elif cmd == "get":
            seq = w[1]
            self._reply(seq, self.hooks.query(w[2], w[3:]) if self.hooks else None)
        elif cmd == "set":
            seq = w[1]
            self._reply(seq, self.hooks.command(w[2], w[3:]) if self.hooks else None)
        elif cmd == "fault":
            seq, kind = w[1], w[2]
            if kind == "torn":
                self.board.storage.torn_at = int(w[3])
            elif kind == "relay":
                self.board.relay_sim.set_fault(w[3])
            self._reply(seq)
        elif cmd == "keys":
            self.board.keypad.type(binascii.unhexlify(w[2]).decode())
            self._reply(w[1])
        elif cmd == "sched":
            self._sched(w[1], int(w[2]), w[3] if len(w) > 3 else "")
        elif cmd == "rate":
            self.board.clock.set_rate(int(w[2]))
            self._reply(w[1])
        elif cmd == "ping":
            self._reply(w[1])
        else:
            self.link.send("err %s unknown command\n" % (w[1] if len(w) > 1 else "-"))

    SCHED_SEG = 52  # u32 duration_ms, then per phase L1..L3: u32 mV, u32 mA, i32 p_mW, i32 q_mvar

    def _sched(self, seq, tick_ms, hexdata):
        """`sched <seq> <tick_ms> <hex>`: a load schedule run in-firmware, no round trip per tick.
        For each segment (little endian, SCHED_SEG bytes): set the three phase loads at the current
        virtual ms, then let `duration_ms` pass with a metering tick at every multiple of tick_ms
        (hooks.run_ticks). Time is frozen meanwhile (real time does not add to it). The reply carries
        the virtual ms at which each segment's loads took effect: [vms, ...]."""
        import struct
        data = binascii.unhexlify(hexdata)
        if len(data) % self.SCHED_SEG or tick_ms <= 0:
            self.link.send("err %s bad schedule\n" % seq)
            return
        clk = self.board.clock
        sim = self.board.afe_sim
        hooks = self.hooks
        marks = []
        frozen = clk.frozen
        clk.frozen = True
        try:
            for off in range(0, len(data), self.SCHED_SEG):
                dur = struct.unpack_from("<I", data, off)[0]
                v = clk.sim_ms()
                for ph in range(3):
                    mv, ma, p, q = struct.unpack_from("<IIii", data, off + 4 + 16 * ph)
                    sim.set_load(ph + 1, mv, ma, p, q, v)
                marks.append(v)
                if hooks is not None:
                    hooks.run_ticks(dur, tick_ms)
                else:
                    clk.jump(dur)
        finally:
            clk.frozen = frozen
        self._reply(seq, marks)
