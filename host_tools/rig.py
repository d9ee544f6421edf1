"""The virtual hardware-in-the-loop rig.

Starts the firmware in the MicroPython Unix port on the unix_sim board and plays its hardware:

- **P1** appears on a TCP port (``rig.p1_url``, ``socket://127.0.0.1:<port>``) like a P1 network
  dongle. Every client gets every byte the meter's P1 UART sends.
- **The optical port** appears on a pty (``rig.optical_port``) that real clients open with pyserial.
  The rig reads the client's baud through the pty master (Linux reports the slave's speed there;
  it normalises character size and parity, so only the speed can be compared) and the meter's line
  settings from the sim UART. Bytes cross the "wire" at the sender's baud, paced in real time at
  10 bits per character; a byte that arrives while the two ends' bauds differ is garbled, as on a
  wire.
- **The metering front end**: ``set_load(phase, volts, amps, pf)`` feeds the simulated AFE.
- **Virtual time**: the meter's clock runs at ``time_rate`` x real time (0 = only when advanced);
  ``advance(seconds)`` fast-forwards it. Every command is acknowledged with the virtual ms at which
  it took effect, so ``truth()`` is exact.
- **Power**: ``power_cut()`` kills the interpreter (optionally after raising the power-fail signal,
  or in the middle of a storage write); ``power_restore()`` restarts it on the same storage file.
- **Pins**: ``set_pin(name, v)`` for inputs (p1_req, button, cover, relay_fb, pfail); ``outputs``
  records what the meter drives (relay coils, LEDs).

Public API (a contract; scripts and tests use it): Rig, set_load, advance, now, power_cut,
power_restore, set_pin, p1_url, p1_port, optical_port, query, registers, read_p1, truth, close,
and the context-manager protocol.
"""
import binascii
import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import termios
import threading
import time
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERPRETERS = {
    "unix": os.path.join(ROOT, "build", "unix", "micropython"),
    "unix32": os.path.join(ROOT, "build", "unix32", "micropython"),
}
UNIX_2020 = 1577836800

_BAUD = {getattr(termios, "B%d" % b): b for b in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400,
                                                  57600, 115200) if hasattr(termios, "B%d" % b)}


def _meter_seconds(start):
    """Meter seconds (UTC since 2020) from an ISO string '2026-01-05T00:00:00Z', a datetime or an
    int (already meter seconds)."""
    if isinstance(start, int):
        return start
    import datetime
    if isinstance(start, str):
        start = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    return int(start.timestamp()) - UNIX_2020


class RigError(Exception):
    pass


def _garble(data, seed):
    """What a UART sees when the sender used another baud: framing noise, deterministic."""
    out = bytearray()
    for i, c in enumerate(data):
        out.append(((c * 37 + 101 + seed + i * 13) & 0xFF) | 0x80)
    return bytes(out)


class _Wire:
    """The optical link: pty master on the client side, sim UART on the meter side."""

    CHAR_BITS = 10  # start + 7 data + parity + stop

    def __init__(self, rig):
        self.rig = rig
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        os.close(slave)
        self.reset_line()
        self.line_reset = True
        self.meter_baud = 300
        self.meter_cfg = (300, 7, "E", 1)
        self.garbled = {"to_meter": 0, "to_client": 0}
        self.clean = {"to_meter": 0, "to_client": 0}
        self.log = []  # (t, direction, baud_sender, baud_receiver, nbytes, garbled)
        self._q = []
        self._cv = threading.Condition()
        self._stop = False
        self._tx_thread = threading.Thread(target=self._tx_loop, daemon=True)
        self._tx_thread.start()

    def reset_line(self):
        """Raw mode at 38400 baud, as a fresh pty. Done whenever no client has the port open: this
        kernel refuses (EINVAL) a tcsetattr to 7E1 that keeps the speed, so pyserial could not
        reopen the port at 300 7E1 after a previous client left it at 300."""
        fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            attrs = termios.tcgetattr(fd)
            attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
            attrs[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON)
            attrs[1] &= ~termios.OPOST
            attrs[4] = attrs[5] = termios.B38400
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        finally:
            os.close(fd)

    def client_baud(self):
        try:
            return _BAUD.get(termios.tcgetattr(self.master)[5], 0)
        except termios.error:
            return 0

    def from_client(self, data):
        """Bytes the client wrote (read from the pty master): deliver to the meter."""
        cb = self.client_baud()
        bad = cb != self.meter_baud
        self.log.append((time.monotonic(), "to_meter", cb, self.meter_baud, len(data), bad))
        if bad:
            self.garbled["to_meter"] += len(data)
            data = _garble(data, 1)
        else:
            self.clean["to_meter"] += len(data)
        self.rig._send("rx optical %s\n" % binascii.hexlify(data).decode())

    def from_meter(self, data):
        with self._cv:
            self._q.append((self.meter_baud, data))
            self._cv.notify()

    def _tx_loop(self):
        # Meter -> client, paced at the meter's baud; each byte is checked against the client's baud
        # at the moment it arrives.
        while True:
            with self._cv:
                while not self._q and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                baud, data = self._q.pop(0)
            char_time = self.CHAR_BITS / float(baud)
            t = time.monotonic()
            for i in range(0, len(data), 16):
                chunk = data[i:i + 16]
                t += char_time * len(chunk)
                delay = t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                cb = self.client_baud()
                bad = cb != baud
                self.log.append((time.monotonic(), "to_client", baud, cb, len(chunk), bad))
                if bad:
                    self.garbled["to_client"] += len(chunk)
                    chunk = _garble(chunk, 2)
                else:
                    self.clean["to_client"] += len(chunk)
                try:
                    os.write(self.master, chunk)
                except OSError:
                    pass

    def idle(self):
        with self._cv:
            return not self._q

    def close(self):
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._tx_thread.join(timeout=2)
        try:
            os.close(self.master)
        except OSError:
            pass


class Rig:
    """See the module docstring. Use as a context manager: ``with Rig() as rig: ...``."""

    def __init__(self, p1_port=0, start="2026-01-05T00:00:00Z", time_rate=1, interp="unix",
                 storage=None, config=None, rtc_backup=True, heap=None, boot_timeout=20.0,
                 p1_request=True):
        self.interp = interp
        self.p1_port_req = p1_port
        self.start_meter_s = _meter_seconds(start)
        self.time_rate = int(time_rate)
        self.config = config
        self.rtc_backup = rtc_backup
        self.heap = heap
        self.boot_timeout = boot_timeout
        self._tmp = tempfile.mkdtemp(prefix="meter-rig-")
        self.storage_path = storage or os.path.join(self._tmp, "flash.bin")
        self.proc = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiters = {}
        self._sel = selectors.DefaultSelector()
        self._link_srv = None
        self._link = None
        self._link_buf = b""
        self._p1_srv = None
        self._p1_clients = []
        self._p1_buf = bytearray()
        self._p1_cv = threading.Condition()
        self.outputs = {}
        self.uart_cfg = {}
        self.logs = []
        self.hits = []
        self._hit_cv = threading.Condition()
        self._running = False
        self._thread = None
        self.wire = None
        self.segments = []  # (vms_from, phase, p_mw, q_mvar) load changes in virtual ms, this power-on
        self.epochs = []  # per power-on: (meter seconds at vms 0, segments list)
        self._epoch = self.start_meter_s
        self._vms = 0
        self._loads = {}
        self._cut_real = None
        self._p1_request = 1 if p1_request else 0
        self.powered = False

    # ----------------------------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if not os.path.exists(INTERPRETERS[self.interp]):
            raise RigError("interpreter %s not built: run `make setup`" % INTERPRETERS[self.interp])
        self._link_srv = socket.socket()
        self._link_srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._link_srv.bind(("127.0.0.1", 0))
        self._link_srv.listen(1)
        self._p1_srv = socket.socket()
        self._p1_srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._p1_srv.bind(("127.0.0.1", self.p1_port_req))
        self._p1_srv.listen(8)
        self._p1_srv.setblocking(False)
        self._sel.register(self._p1_srv, selectors.EVENT_READ, "p1srv")
        self.wire = _Wire(self)
        self._sel.register(self.wire.master, selectors.EVENT_READ, "pty")
        self._running = True
        self._thread = threading.Thread(target=self._io_loop, daemon=True)
        self._thread.start()
        self._boot()

    def close(self):
        self._kill()
        self._running = False
        if self._thread:
            self._thread.join(timeout=3)
        for s in [self._link_srv, self._p1_srv] + list(self._p1_clients):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._p1_clients = []
        if self.wire:
            self.wire.close()
            self.wire = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _boot(self):
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "boards", "unix_sim"),
                                       os.path.join(ROOT, "firmware")])
        env["METER_SIM_LINK"] = "127.0.0.1:%d" % self._link_srv.getsockname()[1]
        env["METER_SIM_STORAGE"] = self.storage_path
        env["METER_SIM_EPOCH"] = str(self._epoch)
        env["METER_SIM_RATE"] = str(self.time_rate)
        env["METER_SIM_RTC"] = "1" if self.rtc_backup else "0"
        if self.config is not None:
            path = os.path.join(self._tmp, "config.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            env["METER_SIM_CONFIG"] = path
        cmd = [INTERPRETERS[self.interp]]
        if self.heap:
            cmd += ["-X", "heapsize=%s" % self.heap]
        cmd.append(os.path.join(ROOT, "firmware", "main.py"))
        self._out = open(os.path.join(self._tmp, "meter.log"), "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT)
        self._link_srv.settimeout(self.boot_timeout)
        try:
            conn, _ = self._link_srv.accept()
        except socket.timeout:
            raise RigError("firmware did not connect to the rig:\n" + self.meter_log())
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._link = conn
            self._link_buf = b""
        self._hello = threading.Event()
        self._sel.register(conn, selectors.EVENT_READ, "link")
        if not self._hello.wait(self.boot_timeout):
            raise RigError("firmware did not say hello:\n" + self.meter_log())
        self.powered = True
        self.segments = []
        self.epochs.append((self._epoch, self.segments))
        self._vms = 0
        # Re-apply the world's state: loads and input pins persist across power cuts.
        if self._p1_request != 1:
            self.set_pin("p1_req", self._p1_request)
        for phase, args in sorted(self._loads.items()):
            self._apply_load(phase, *args)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            r = self.query("status")
            if r and r.get("ready"):
                return r
            time.sleep(0.05)
        raise RigError("firmware not ready:\n" + self.meter_log())

    def _kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
            self._out.close()
        with self._lock:
            conn, self._link = self._link, None
        if conn is not None:
            try:
                self._sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            conn.close()
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for w in waiters.values():
            w["event"].set()
        self.powered = False

    # ----------------------------------------------------------------------------- power
    def power_cut(self, warn=False, torn_write=None, save_timeout=10.0):
        """Cut the power. warn=True raises the power-fail signal first and waits until the meter
        has handled it (saved). torn_write=N: the meter's next storage write stops after N bytes
        (the cut happens inside that write); the write is provoked by the power-fail signal."""
        if not self.powered:
            raise RigError("power is already off")
        vms = self._vms
        if torn_write is not None:
            self._cmd("fault", "torn", str(int(torn_write)))
            with self._hit_cv:
                n = len(self.hits)
            self._send_cmd_nowait("pin", "pfail", "1")
            with self._hit_cv:
                self._hit_cv.wait_for(lambda: len(self.hits) > n or self.proc.poll() is not None,
                                      timeout=save_timeout)
        elif warn:
            vms = self._cmd("pin", "pfail", "1", timeout=save_timeout)[0]
        else:
            try:
                vms = self._cmd("ping", timeout=2)[0]
            except RigError:
                pass
        self._world_vms = max(vms, self._vms)
        self._cut_real = time.monotonic()
        self._kill()

    def power_restore(self):
        """Restore power: restart the interpreter on the same storage. The world clock ran on while
        the power was off (at time_rate)."""
        if self.powered:
            raise RigError("power is on")
        off = time.monotonic() - (self._cut_real or time.monotonic())
        self._epoch = self._epoch + self._world_vms // 1000 + int(off * self.time_rate)
        self._boot()

    # ----------------------------------------------------------------------------- controls
    def set_load(self, phase, volts, amps, pf=1.0):
        """Load on phase 1..3: RMS volts and amps and power factor. A negative power (negative amps
        or pf) is export. Reactive power follows from pf (inductive for pf > 0)."""
        if phase not in (1, 2, 3):
            raise ValueError("phase must be 1, 2 or 3")
        if not -1.0 <= pf <= 1.0:
            raise ValueError("pf must be in -1..1")
        mv = int(round(abs(volts) * 1000))
        ma = int(round(amps * 1000))
        p_mw = int(round(volts * amps * pf * 1000))
        s = abs(volts * amps)
        q_mvar = int(round((max(s * s - (volts * amps * pf) ** 2, 0.0)) ** 0.5 * 1000))
        if p_mw < 0:
            q_mvar = -q_mvar
        self._loads[phase] = (mv, abs(ma), p_mw, q_mvar)
        if self.powered:
            self._apply_load(phase, mv, abs(ma), p_mw, q_mvar)

    def _apply_load(self, phase, mv, ma, p_mw, q_mvar):
        vms = self._cmd("load", str(phase), str(mv), str(ma), str(p_mw), str(q_mvar))[0]
        self.segments.append((vms, phase, p_mw, q_mvar))

    def advance(self, seconds):
        """Fast-forward the meter's virtual time by `seconds` (int or float, ms resolution)."""
        ms = int(round(seconds * 1000))
        if ms < 0:
            raise ValueError("time only goes forward; set the meter clock to step it back")
        timeout = 30 + ms / 1000.0 / 20000.0
        return self._cmd("adv", str(ms), timeout=timeout)[0]

    def set_pin(self, name, value):
        if name == "p1_req":
            self._p1_request = 1 if value else 0
        return self._cmd("pin", name, "1" if value else "0")

    def now(self):
        """Virtual time now, as meter seconds (UTC since 2020-01-01)."""
        vms = self._cmd("ping")[0]
        return self._epoch + vms // 1000

    def now_unix(self):
        return self.now() + UNIX_2020

    def query(self, what, *args, timeout=30.0):
        """Ask the firmware app (`get <what> [args]`); returns its JSON answer."""
        return self._cmd("get", what, *[str(a) for a in args], timeout=timeout)[1]

    def command(self, what, *args, timeout=30.0):
        """Tell the firmware app to do something (`set <what> [args]`); returns its JSON answer."""
        return self._cmd("set", what, *[str(a) for a in args], timeout=timeout)[1]

    def registers(self):
        """All registers: {obis: (value, scaler, unit)}, as of the meter's last metering tick."""
        r = self.query("registers")
        return {k: tuple(v) for k, v in r.items()}

    def register(self, obis):
        return self.registers()[obis]

    # ----------------------------------------------------------------------------- P1
    @property
    def p1_port(self):
        return self._p1_srv.getsockname()[1]

    @property
    def p1_url(self):
        return "socket://127.0.0.1:%d" % self.p1_port

    @property
    def optical_port(self):
        return self.wire.port

    def p1_mark(self):
        """Position in the P1 byte stream (for read_p1(after=...))."""
        with self._p1_cv:
            return len(self._p1_buf)

    def read_p1(self, timeout=5.0, after=None):
        """Next complete P1 telegram (bytes, '/'..CRC CRLF) that starts after stream position
        `after` (default: now). For smarty frames use read_p1_frame."""
        start = self.p1_mark() if after is None else after
        deadline = time.monotonic() + timeout
        with self._p1_cv:
            while True:
                buf = bytes(self._p1_buf[start:])
                i = buf.find(b"/")
                if i >= 0:
                    j = buf.find(b"!", i)
                    if j >= 0 and len(buf) >= j + 7 and buf[j + 5:j + 7] == b"\r\n":
                        return buf[i:j + 7]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RigError("no P1 telegram within %.1f s" % timeout)
                self._p1_cv.wait(left)

    def read_p1_bytes(self, timeout=5.0, after=None, quiet=0.3):
        """Raw P1 bytes from position `after` until the line has been quiet for `quiet` s."""
        start = self.p1_mark() if after is None else after
        deadline = time.monotonic() + timeout
        with self._p1_cv:
            last_len, last_t = len(self._p1_buf), time.monotonic()
            while time.monotonic() < deadline:
                self._p1_cv.wait(0.05)
                if len(self._p1_buf) != last_len:
                    last_len, last_t = len(self._p1_buf), time.monotonic()
                elif last_len > start and time.monotonic() - last_t >= quiet:
                    break
            return bytes(self._p1_buf[start:])

    # ----------------------------------------------------------------------------- ground truth
    def truth(self, upto_vms=None):
        """Exact energy the loads delivered during this power-on, per phase, as Fractions of Wh:
        {phase: (import_wh, export_wh)} up to virtual ms `upto_vms` (default: last ack)."""
        end = self._vms if upto_vms is None else upto_vms
        out = {}
        for p in (1, 2, 3):
            segs = [(v, pm) for (v, ph, pm, q) in self.segments if ph == p]
            imp = exp = Fraction(0)
            for k, (v, pm) in enumerate(segs):
                v2 = segs[k + 1][0] if k + 1 < len(segs) else end
                v2 = min(v2, end)
                if v2 <= v:
                    continue
                e = Fraction(pm * (v2 - v), 3600 * 1000 * 1000)  # mW * ms -> Wh
                if e >= 0:
                    imp += e
                else:
                    exp -= e
            out[p] = (imp, exp)
        return out

    def meter_log(self):
        try:
            with open(os.path.join(self._tmp, "meter.log"), "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    # ----------------------------------------------------------------------------- link plumbing
    def _send(self, text):
        with self._lock:
            conn = self._link
        if conn is None:
            raise RigError("the meter is off")
        data = text.encode()
        conn.setblocking(True)
        try:
            conn.sendall(data)
        except OSError as e:
            raise RigError("link lost: %s" % e)
        finally:
            try:
                conn.setblocking(False)
            except OSError:
                pass

    def _send_cmd_nowait(self, cmd, *args):
        with self._lock:
            self._seq += 1
            seq = str(self._seq)
        self._send(" ".join((cmd, seq) + args) + "\n")

    def _cmd(self, cmd, *args, timeout=30.0):
        with self._lock:
            self._seq += 1
            seq = str(self._seq)
            w = {"event": threading.Event(), "reply": None}
            self._waiters[seq] = w
        self._send(" ".join((cmd, seq) + args) + "\n")
        if not w["event"].wait(timeout):
            with self._lock:
                self._waiters.pop(seq, None)
            raise RigError("no answer to %s within %.0f s:\n%s" % (cmd, timeout, self.meter_log()))
        r = w["reply"]
        if r is None:
            raise RigError("meter went away during %s:\n%s" % (cmd, self.meter_log()))
        if r[0] == "err":
            raise RigError("meter refused %s: %s" % (cmd, r[1]))
        return r[1], r[2]

    def _io_loop(self):
        while self._running:
            try:
                events = self._sel.select(timeout=0.1)
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            for key, _ in events:
                tag = key.data
                try:
                    if tag == "link":
                        self._on_link(key.fileobj)
                    elif tag == "p1srv":
                        c, _ = self._p1_srv.accept()
                        c.setblocking(True)
                        c.settimeout(1.0)
                        self._p1_clients.append(c)
                    elif tag == "pty":
                        self._on_pty()
                except OSError:
                    pass

    def _on_pty(self):
        wire = self.wire
        try:
            data = os.read(wire.master, 4096)
        except OSError:
            # EIO: no client has the port open. Reset the line once, then look again later.
            self._sel.unregister(wire.master)
            if not wire.line_reset:
                try:
                    wire.reset_line()
                except OSError:
                    pass
                wire.line_reset = True
            threading.Timer(0.05, self._pty_rearm).start()
            return
        if data:
            wire.line_reset = False
            if self._link is not None:
                try:
                    wire.from_client(data)
                except RigError:
                    pass

    def _pty_rearm(self):
        if self._running and self.wire is not None:
            try:
                self._sel.register(self.wire.master, selectors.EVENT_READ, "pty")
            except (KeyError, ValueError, OSError):
                pass

    def _on_link(self, conn):
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            try:
                self._sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            with self._lock:
                waiters, self._waiters = self._waiters, {}
            for w in waiters.values():
                w["event"].set()
            return
        self._link_buf += data
        while b"\n" in self._link_buf:
            line, self._link_buf = self._link_buf.split(b"\n", 1)
            self._on_line(line.decode(errors="replace"))

    def _on_line(self, line):
        w = line.split(" ", 3)
        kind = w[0]
        if kind == "ok" or kind == "err":
            seq = w[1]
            if kind == "ok":
                vms = int(w[2])
                self._vms = max(self._vms, vms)
                payload = json.loads(w[3]) if len(w) > 3 else None
                reply = ("ok", vms, payload)
            else:
                reply = ("err", " ".join(w[2:]), None)
            with self._lock:
                waiter = self._waiters.pop(seq, None)
            if waiter:
                waiter["reply"] = reply
                waiter["event"].set()
        elif kind == "tx":
            data = binascii.unhexlify(w[2])
            if w[1] == "p1":
                self._p1_out(data)
            elif w[1] == "optical":
                self.wire.from_meter(data)
        elif kind == "cfg":
            self.uart_cfg[w[1]] = tuple(line.split(" ")[2:])
            if w[1] == "optical":
                self.wire.meter_baud = int(line.split(" ")[2])
        elif kind == "out":
            self.outputs[w[1]] = int(w[2])
        elif kind == "hello":
            self._vms = int(w[2])
            self._hello.set()
        elif kind == "hit":
            with self._hit_cv:
                self.hits.append(line)
                self._hit_cv.notify_all()
        elif kind == "log":
            self.logs.append(line[4:])
            if len(self.logs) > 2000:
                del self.logs[:1000]

    def _p1_out(self, data):
        with self._p1_cv:
            self._p1_buf += data
            self._p1_cv.notify_all()
        dead = []
        for c in self._p1_clients:
            try:
                c.sendall(data)
            except OSError:
                dead.append(c)
        for c in dead:
            self._p1_clients.remove(c)
            c.close()
