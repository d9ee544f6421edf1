"""The virtual hardware-in-the-loop rig.

Starts the firmware in the MicroPython Unix port on the unix_sim board and plays its hardware:

- **P1** appears on a TCP port (``rig.p1_url``, ``socket://127.0.0.1:<port>``) like a P1 network
  dongle. Every client gets every byte the meter's P1 UART sends.
- **The optical port** appears on a pty (``rig.optical_port``) that real clients open with pyserial.
  The rig reads the client's baud through the pty master (Linux reports the slave's speed there;
  it normalises character size and parity, so only the speed can be compared) and the meter's line
  settings from the sim UART. Bytes cross the "wire" at the sender's baud, paced in real time at
  10 bits per character; a byte that arrives while the two ends' bauds differ is garbled, as on a
  wire. ``Rig(optical_echo=True)`` models a head that echoes: every byte the meter sends also comes
  back into the meter's receiver (``wire.echoed`` counts them). ``wire.cfg_log`` records the meter's
  line settings over time, ``wire.meter_cfg`` the current ones (baud, bits, parity, stop): 7E1 in
  mode C, 8N1 in mode E (DLMS over HDLC). The pty hides the client's framing, so only the speed
  decides clean or garbled; a mode E client changes speed and framing in one tcsetattr.
- **The metering front end**: ``set_load(phase, volts, amps, pf)`` feeds the simulated AFE.
- **Virtual time**: the meter's clock runs at ``time_rate`` x real time (0 = only when advanced;
  ``set_time_rate(n)`` changes it live, ``set_p1_pace()`` the P1 cadence); ``advance(seconds)``
  fast-forwards it. Every command is acknowledged with the virtual ms at which
  it took effect, so ``truth()`` is exact.
- **Power**: ``power_cut()`` kills the interpreter (optionally after raising the power-fail signal,
  or in the middle of a storage write); ``power_restore()`` restarts it on the same storage file.
- **Pins**: ``set_pin(name, v)`` for inputs (p1_req, button, cover, pfail); ``outputs``
  records what the meter drives (relay coils, LEDs).
- **The supply relay** (boards/unix_sim/relay_sim.py, in the firmware process): a bistable model
  behind the coils and the feedback pin; ``relay()`` -> {closed, fault, changes}, ``relay_fault(
  "welded" | "open_coil" | "ok")``. Its contact survives power cuts. While it is open the loads
  draw nothing, in the AFE model and in ``truth()``.
- **The customer**: ``display()`` (8 text lines), ``wait_display(text)``, ``keypad("123#")``,
  ``press_button()``.
- **Load schedules and exact truth in counts**: ``schedule(segments, tick_ms=1000)`` runs many
  (duration_ms, loads L1..L3) segments inside the firmware (link ``sched``) with a metering tick at
  every multiple of tick_ms, no round trip per tick (~10^4 ticks/s); ``truth_energy()`` gives every
  energy register as the firmware must hold it (Wh + remainder), ``truth_counts()`` /
  ``counts_at(vms)`` the AFE counts, computed with Fractions from the acknowledged segments and the
  AfeSim formula (boards/unix_sim/afe_sim.py); ``load_raw(volts, amps, pf)`` builds a raw load.
- **Small heaps**: ``Rig(interp="unix32", heap="96K", frozen=True)`` runs the firmware frozen into
  a 32-bit interpreter (bytecode in ROM as in a product image; build/unix32-frozen, built on
  demand); ``mpy=True`` runs it from mpy-cross .mpy files instead (bytecode on the heap).

Public API (a contract; scripts and tests use it): Rig(p1_port, start, time_rate, interp,
storage, config, rtc_backup, heap, boot_timeout, p1_request, optical_echo, mpy, frozen, state_dir,
p1_pace), start, close, the context-manager protocol, set_load, advance, set_time_rate, set_p1_pace, now, now_unix, power_cut, power_restore,
set_pin, outputs, p1_url, p1_port, p1_mark, read_p1, read_p1_bytes, read_p1_newest, optical_port, wire,
config_dir, storage_path, query, command, registers, register, truth, truth_energy, truth_counts,
counts_at, counts_per_wh, energy_mwms, load_raw, schedule, meter_log, display, wait_display,
keypad, press_button, relay, relay_fault, dlms_port, dlms_url. Errors raise RigError.
"""
import binascii
import bisect
import json
import math
import os
import selectors
import shutil
import socket
import subprocess
import sys
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


MWMS_PER_WH = 3600 * 1000 * 1000  # mW * ms in one Wh


def load_raw(volts, amps, pf=1.0):
    """(mV, mA, p_mW, q_mvar) of a load given as set_load() takes it (same conversion)."""
    mv = int(round(abs(volts) * 1000))
    ma = int(round(amps * 1000))
    p_mw = int(round(volts * amps * pf * 1000))
    s = abs(volts * amps)
    q_mvar = int(round((max(s * s - (volts * amps * pf) ** 2, 0.0)) ** 0.5 * 1000))
    if p_mw < 0:
        q_mvar = -q_mvar
    return (mv, abs(ma), p_mw, q_mvar)


def _board_calibration():
    """The unix_sim board's default calibration (boards/unix_sim/calibration.py), read as data."""
    ns = {}
    with open(os.path.join(ROOT, "boards", "unix_sim", "calibration.py")) as f:
        exec(compile(f.read(), "calibration.py", "exec"), ns)
    return ns["CALIBRATION"]


FROZEN32 = os.path.join(ROOT, "build", "unix32-frozen", "micropython")
_frozen_checked = []  # built (or found up to date) once in this process


def announce(msg):
    """A build step's progress line on stderr (stdout carries `make sim`'s contract lines)."""
    print(msg, file=sys.stderr, flush=True)


def build_frozen_interp():
    """The 32-bit interpreter with the firmware (firmware/meter, boards/unix_sim) frozen in, as a
    product image has it (bytecode in ROM, not on the heap). Built on demand with the same flags as
    the Makefile's build/unix32/micropython plus a frozen manifest; incremental (make), serialised
    with a lock file, so calling it is cheap when nothing changed. Returns the interpreter's path."""
    import fcntl
    if _frozen_checked and os.path.exists(FROZEN32):
        return FROZEN32
    mpsrc = os.path.join(ROOT, "build", "mpsrc", "micropython")
    obj = os.path.join(ROOT, "build", "obj-unix32-frozen")
    os.makedirs(obj, exist_ok=True)
    os.makedirs(os.path.dirname(FROZEN32), exist_ok=True)
    manifest = os.path.join(obj, "manifest.py")
    text = ('include("$(MPY_DIR)/extmod/asyncio")\n'
            'package("meter", base_path=%r)\n' % os.path.join(ROOT, "firmware"))
    sim_dir = os.path.join(ROOT, "boards", "unix_sim")
    for name in sorted(n for n in os.listdir(sim_dir) if n.endswith(".py")):
        text += 'module(%r, base_path=%r)\n' % (name, sim_dir)
    announce("build: frozen 32-bit interpreter %s (incremental; a minute or more after a firmware "
             "change)" % os.path.relpath(FROZEN32, ROOT))
    t0 = time.monotonic()
    with open(os.path.join(obj, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = None
        if os.path.exists(manifest):
            with open(manifest) as f:
                old = f.read()
        if old != text:
            with open(manifest, "w") as f:
                f.write(text)
        r = subprocess.run(["make", "-s", "-C", os.path.join(mpsrc, "ports", "unix"), "-j2",
                            "VARIANT=standard", "BUILD=" + obj, "MICROPY_SSL_AXTLS=0", "MICROPY_SSL_MBEDTLS=1",
                            "MICROPY_PY_BTREE=0", "FROZEN_MANIFEST=" + manifest,
                            "USER_C_MODULES=" + os.path.join(ROOT, "firmware"), "MICROPY_FORCE_32BIT=1",
                            "MICROPY_PY_FFI=0", "MICROPY_PY_SSL=0"], capture_output=True, text=True)
        if r.returncode:
            raise RigError("building the frozen 32-bit interpreter failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
        built = os.path.join(obj, "micropython")
        if not os.path.exists(FROZEN32) or os.path.getmtime(built) != os.path.getmtime(FROZEN32):
            shutil.copy2(built, FROZEN32 + ".tmp")
            os.replace(FROZEN32 + ".tmp", FROZEN32)
    announce("build: frozen 32-bit interpreter ready (%.0f s)" % (time.monotonic() - t0))
    _frozen_checked.append(True)
    return FROZEN32


def _garble(data, seed):
    """What a UART sees when the sender used another baud: framing noise, deterministic."""
    out = bytearray()
    for i, c in enumerate(data):
        out.append(((c * 37 + 101 + seed + i * 13) & 0xFF) | 0x80)
    return bytes(out)


def _sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


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
        self.cfg_log = []  # (t, baud, bits, parity, stop) of the meter's optical UART (uart_cfg text)
        self.echoed = 0  # meter bytes the echoing head returned to the meter (Rig(optical_echo=True))
        self._q = []
        self._cv = threading.Condition()
        self._stop = False
        self._tx_thread = threading.Thread(target=self._tx_loop, daemon=True)
        self._tx_thread.start()
        self._rxq = []  # (arrival time, client baud, bytes) written by the client, not yet on the line
        self._last_clean = True  # the last byte to the meter arrived at the meter's baud
        self._rx_thread = threading.Thread(target=self._rx_loop, daemon=True)
        self._rx_thread.start()

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
        """Bytes the client wrote (read from the pty master), at the client's baud of that moment:
        queued for the line, which delivers them to the meter paced at that baud."""
        with self._cv:
            self._rxq.append((time.monotonic(), self.client_baud(), data))
            self._cv.notify_all()

    def _next(self, q, pop):
        """The oldest entry of queue q (removed if pop), waiting for one; None once closed."""
        with self._cv:
            while not q and not self._stop:
                self._cv.wait()
            if self._stop:
                return None
            return q.pop(0) if pop else q[0]

    def _carry(self, direction, sender_baud, receiver_baud, chunk, seed, tally):
        """One piece on the line: logged, counted, garbled when the two ends' bauds differ."""
        bad = sender_baud != receiver_baud
        self.log.append((time.monotonic(), direction, sender_baud, receiver_baud, len(chunk), bad))
        if bad:
            self.garbled[tally] += len(chunk)
            return _garble(chunk, seed)
        if direction != "echo":
            self.clean[tally] += len(chunk)
        return chunk

    def _to_meter(self, chunk):
        try:
            self.rig._send("rx optical %s\n" % binascii.hexlify(chunk).decode())
        except RigError:
            pass  # the meter is off: the bytes are lost, as on a real line

    def _rx_loop(self):
        # Client -> meter. While the meter listens at the client's baud the bytes go through at
        # once (a fuzzing client needs no real-time line). While it does not, they go one
        # character time apart and each is checked against the meter's baud when it has fully
        # arrived, so a meter that switches baud mid-message (after a garbled first byte)
        # receives the rest cleanly, as a real UART does. A real meter sees the framing error of
        # the first garbled byte within microseconds; the sim meter is a process that may not get
        # a core for a while, so after the first garbled byte of a burst the line gives it up to
        # REACT_S (wall time) to switch before the next byte is judged (time_rate 0 rigs have no
        # meter-side time passing meanwhile; at other rates the character is only stretched).
        t_line = 0.0
        react_from = None  # the meter's baud when a burst's first byte arrived garbled
        while True:
            item = self._next(self._rxq, pop=False)
            if item is None:
                return
            t_in, cb, data = item
            char_time = self.CHAR_BITS / float(cb or 300)
            t = max(t_line, t_in)
            i = 0
            while i < len(data):
                if react_from is not None:
                    self._await_switch(react_from)
                    t = max(t, time.monotonic())
                if cb == self.meter_baud:
                    chunk = data[i:]
                    t = time.monotonic()
                else:
                    t += char_time
                    _sleep_until(t)
                    chunk = data[i:i + 1]
                i += len(chunk)
                before = self.meter_baud
                self._to_meter(self._carry("to_meter", cb, before, chunk, 1, "to_meter"))
                first_bad = cb != before and (react_from is None and self._last_clean)
                self._last_clean = cb == before
                react_from = before if first_bad else None
            t_line = t
            with self._cv:
                self._rxq.pop(0)  # only now: idle() is false while bytes are still on the line
                self._cv.notify_all()

    REACT_S = 0.5

    def _await_switch(self, baud):
        """Wait (up to REACT_S) for the meter to leave `baud` after a garbled byte."""
        end = time.monotonic() + self.REACT_S
        while self.meter_baud == baud and time.monotonic() < end and not self._stop:
            time.sleep(0.002)

    def from_meter(self, data):
        with self._cv:
            self._q.append((self.meter_baud, data))
            self._cv.notify_all()

    def _tx_loop(self):
        # Meter -> client, paced at the meter's baud; each byte is checked against the client's baud
        # at the moment it arrives.
        while True:
            item = self._next(self._q, pop=True)
            if item is None:
                return
            baud, data = item
            char_time = self.CHAR_BITS / float(baud)
            t = time.monotonic()
            for i in range(0, len(data), 16):
                chunk = data[i:i + 16]
                t += char_time * len(chunk)
                _sleep_until(t)
                # the head's echo reaches the meter as the client gets the bytes: handed over first,
                # so a client's quick answer can never overtake it (under load it did)
                if getattr(self.rig, "optical_echo", False):
                    self._echo(chunk, baud)
                try:
                    os.write(self.master, self._carry("to_client", baud, self.client_baud(), chunk, 2,
                                                      "to_client"))
                except OSError:
                    pass

    def _echo(self, chunk, baud):
        """The head returns the meter's own bytes at the baud they were sent; garbled if the meter
        has switched meanwhile."""
        self.echoed += len(chunk)
        self._to_meter(self._carry("echo", baud, self.meter_baud, chunk, 3, "to_meter"))

    def idle(self):
        with self._cv:
            return not self._q and not self._rxq

    def close(self):
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._tx_thread.join(timeout=2)
        self._rx_thread.join(timeout=2)
        try:
            os.close(self.master)
        except OSError:
            pass


class Rig:
    """See the module docstring. Use as a context manager: ``with Rig() as rig: ...``."""

    def __init__(self, p1_port=0, start="2026-01-05T00:00:00Z", time_rate=1, interp="unix",
                 storage=None, config=None, rtc_backup=True, heap=None, boot_timeout=20.0,
                 p1_request=True, optical_echo=False, mpy=False, frozen=False, state_dir=None,
                 p1_pace="virtual"):
        self.interp = interp
        # mpy=True: run the firmware precompiled with mpy-cross (as a board does), compiled into
        # this rig's temp dir at start(); needed for small heaps (compiling from source needs heap)
        self.mpy = mpy
        self._mpy_dir = None
        # frozen=True (interp "unix32" only): the firmware frozen into the interpreter, bytecode in
        # ROM as in a product image (build/unix32-frozen, built on demand by build_frozen_interp())
        self.frozen = frozen
        self.optical_echo = optical_echo  # the optical head echoes the meter's bytes back to it
        self._send_lock = threading.Lock()  # one writer at a time on the link (several threads send)
        self.p1_port_req = p1_port
        self.start_meter_s = _meter_seconds(start)
        self.time_rate = int(time_rate)
        self.config = config
        self.rtc_backup = rtc_backup
        self.heap = heap
        self.boot_timeout = boot_timeout
        self._tmp = tempfile.mkdtemp(prefix="meter-rig-")
        # state_dir: storage image and meter log kept there across rigs (`make sim`'s .sim/);
        # default None: both in the temp dir, removed at close()
        self.state_dir = state_dir
        # p1_pace: "virtual" one P1 telegram per virtual second (the tests' cadence: exact
        # telegrams per advance()), "real" one per real second whatever time_rate (`make sim`)
        if p1_pace not in ("virtual", "real"):
            raise ValueError("p1_pace must be 'virtual' or 'real'")
        self.p1_pace = p1_pace
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
        self.storage_path = storage or os.path.join(state_dir or self._tmp, "flash.bin")
        self.log_path = os.path.join(state_dir or self._tmp, "meter.log")
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
        # the latching supply relay (boards/unix_sim/relay_sim.py): its contact survives power cuts
        self.relay_closed = True
        self.relay_fault_kind = "ok"
        self.relay_log = []  # (vms, closed) contact changes this power-on
        self.display_lines = [""] * 8
        self._display_cv = threading.Condition()
        self.powered = False
        from host_tools.rig_air import RigAir
        self.air = RigAir(self)  # the shared wM-Bus air (host_tools/rig_air.py)

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
        env["METER_SIM_P1_PACE"] = self.p1_pace
        env["METER_SIM_RTC"] = "1" if self.rtc_backup else "0"
        env["METER_SIM_RELAY"] = "1" if self.relay_closed else "0"
        env["METER_SIM_RELAY_FAULT"] = self.relay_fault_kind
        if self.config is not None:
            path = os.path.join(self._tmp, "config.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            env["METER_SIM_CONFIG"] = path
        cmd = [INTERPRETERS[self.interp]]
        if self.heap:
            cmd += ["-X", "heapsize=%s" % self.heap]
        cmd.append(os.path.join(ROOT, "firmware", "main.py"))
        if self.frozen:
            if self.interp != "unix32":
                raise RigError("frozen=True needs interp='unix32'")
            cmd[0] = build_frozen_interp()
            main_dir = os.path.join(self._tmp, "frozen_main")
            os.makedirs(main_dir, exist_ok=True)
            shutil.copy(os.path.join(ROOT, "firmware", "main.py"), os.path.join(main_dir, "main.py"))
            env["MICROPYPATH"] = ".frozen"
            cmd[-1] = os.path.join(main_dir, "main.py")
        if self.mpy:
            if self._mpy_dir is None:
                self._mpy_dir = self._build_mpy()
            env["MICROPYPATH"] = ":".join([".frozen", os.path.join(self._mpy_dir, "boards", "unix_sim"),
                                           os.path.join(self._mpy_dir, "firmware")])
            cmd[-1] = os.path.join(self._mpy_dir, "firmware", "main.py")
        cwd = ROOT
        if getattr(self, "boot_hook", None) is not None:  # rig_update.FlashBoot: the simulated flash
            cmd, env, cwd = self.boot_hook(cmd, env)
        self._out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        # wait in short slices: a firmware process that died is reported at once, not at the timeout
        self._link_srv.settimeout(0.2)
        deadline = time.monotonic() + self.boot_timeout
        while True:
            try:
                conn, _ = self._link_srv.accept()
                break
            except socket.timeout:
                self._check_alive("before connecting to the rig")
                if time.monotonic() >= deadline:
                    raise RigError("firmware did not connect to the rig:\n" + self.meter_log())
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._link = conn
            self._link_buf = b""
        self._hello = threading.Event()
        self._sel.register(conn, selectors.EVENT_READ, "link")
        deadline = time.monotonic() + self.boot_timeout
        while not self._hello.wait(0.2):
            self._check_alive("before saying hello")
            if time.monotonic() >= deadline:
                raise RigError("firmware did not say hello:\n" + self.meter_log())
        self.powered = True
        self.segments = []
        self.relay_log = []
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
            self._check_alive("before it was ready")
            time.sleep(0.05)
        raise RigError("firmware not ready:\n" + self.meter_log())

    def _build_mpy(self):
        """Compile firmware/ and boards/unix_sim/ with mpy-cross into <tmp>/mpy (same tree, .mpy
        files; main.py stays source, it is the script). Returns the directory."""
        cross = os.path.join(ROOT, "build", "mpsrc", "micropython", "mpy-cross", "build", "mpy-cross")
        if not os.path.exists(cross):
            raise RigError("mpy-cross not built: run `make setup`")
        out = os.path.join(self._tmp, "mpy")
        announce("build: mpy-cross firmware -> %s" % out)
        for sub in ("firmware", os.path.join("boards", "unix_sim")):
            src_root = os.path.join(ROOT, sub)
            for dirpath, dirnames, files in os.walk(src_root):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                rel = os.path.relpath(dirpath, src_root)
                dst = os.path.normpath(os.path.join(out, sub, rel))
                for name in files:
                    if not name.endswith(".py"):
                        continue
                    os.makedirs(dst, exist_ok=True)
                    src = os.path.join(dirpath, name)
                    if sub == "firmware" and rel == "." and name == "main.py":
                        shutil.copy(src, os.path.join(dst, name))
                        continue
                    r = subprocess.run([cross, "-msmall-int-bits=31", "-o",
                                        os.path.join(dst, name[:-3] + ".mpy"), "-s", name, src],
                                       capture_output=True, text=True, cwd=ROOT)
                    if r.returncode:
                        raise RigError("mpy-cross %s: %s" % (src, r.stderr))
        return out

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

    def power_restore(self, off_s=None):
        """Restore power: restart the interpreter on the same storage. The world clock ran on while
        the power was off (at time_rate); off_s=N: the outage lasted N world seconds instead (e.g. a
        long power failure with time_rate=0)."""
        if self.powered:
            raise RigError("power is on")
        off = time.monotonic() - (self._cut_real or time.monotonic())
        off = int(off * self.time_rate) if off_s is None else int(off_s)
        self._epoch = self._epoch + self._world_vms // 1000 + off
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
        self._segment(vms, phase, p_mw, q_mvar)

    def _segment(self, vms, phase, p_mw, q_mvar):
        """A load change of the ground truth: what the phase draws from vms on (nothing while the
        supply relay is open). Kept in virtual-ms order (relay reports arrive on the io thread)."""
        with self._lock:
            seg = (vms, phase, p_mw if self.relay_closed else 0, q_mvar if self.relay_closed else 0)
            k = len(self.segments)
            while k and self.segments[k - 1][0] > vms:
                k -= 1
            self.segments.insert(k, seg)

    # ----------------------------------------------------------------------------- customer side
    def display(self):
        """The text lines the meter's display shows now (8 lines, up to 16 characters)."""
        with self._display_cv:
            return list(self.display_lines)

    def wait_display(self, text, timeout=5.0):
        """Wait until `text` appears on some display line; returns the lines (RigError if not)."""
        end = time.monotonic() + timeout
        with self._display_cv:
            while not any(text in ln for ln in self.display_lines):
                left = end - time.monotonic()
                if left <= 0:
                    raise RigError("display never showed %r; it shows %r" % (text, self.display_lines))
                self._display_cv.wait(left)
            return list(self.display_lines)

    def keypad(self, keys):
        """Type keys ('0'-'9', '*', '#') on the meter's keypad; the meter reads one per scan."""
        return self._cmd("keys", binascii.hexlify(keys.encode()).decode())[0]

    def press_button(self, hold_s=0.2):
        """Press the meter's button for `hold_s` real seconds, then release it and wait as long
        again (as a finger does: the meter debounces over its 20 ms scans, and a second press must
        follow a release it has seen)."""
        self.set_pin("button", 1)
        time.sleep(hold_s)
        self.set_pin("button", 0)
        time.sleep(hold_s)

    def relay(self):
        """The supply relay as the rig's model has it: {"closed", "fault", "changes"}."""
        return {"closed": self.relay_closed, "fault": self.relay_fault_kind,
                "changes": list(self.relay_log)}

    def relay_fault(self, kind):
        """Inject a relay fault: "welded" (stays closed), "open_coil" (never moves) or "ok"."""
        if kind not in ("ok", "welded", "open_coil"):
            raise ValueError("relay fault: ok, welded or open_coil")
        self.relay_fault_kind = kind
        if self.powered:
            self._cmd("fault", "relay", kind)

    def advance(self, seconds):
        """Fast-forward the meter's virtual time by `seconds` (int or float, ms resolution)."""
        ms = int(round(seconds * 1000))
        if ms < 0:
            raise ValueError("time only goes forward; set the meter clock to step it back")
        timeout = 30 + ms / 1000.0 / 20000.0
        return self._cmd("adv", str(ms), timeout=timeout)[0]

    def set_time_rate(self, rate):
        """Change time_rate live (virtual seconds per real second; 0 = only when advanced). P1
        keeps the pacing the meter booted with (p1_pace)."""
        rate = int(rate)
        if rate < 0:
            raise ValueError("time_rate must be >= 0")
        self.time_rate = rate  # also the rate of the next boot and of an outage's length
        if self.powered:
            return self._cmd("rate", str(rate))[0]

    def set_p1_pace(self, pace):
        """Change p1_pace live ("virtual" | "real", see __init__); also the pace of the next boot."""
        if pace not in ("virtual", "real"):
            raise ValueError("p1_pace must be 'virtual' or 'real'")
        self.p1_pace = pace
        if self.powered:
            r = self.command("p1_pace", pace)
            if r is not True:
                raise RigError("meter refused p1_pace: %r" % (r,))

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

    # ----------------------------------------------------------------------------- DLMS
    @property
    def dlms_port(self):
        """The meter's DLMS/COSEM TCP wrapper port (config "dlms": {"tcp_port": n}), or None."""
        d = (self.config or {}).get("dlms")
        return d.get("tcp_port", 4059) if d else None

    @property
    def dlms_url(self):
        return "tcp://127.0.0.1:%d" % self.dlms_port if self.dlms_port else None

    @property
    def config_dir(self):
        """The meter's writable config dir (board.config_dir: beside the storage image). Files put
        there before start() (e.g. tariff.json) are what the firmware finds at boot."""
        return os.path.dirname(os.path.abspath(self.storage_path))

    def p1_mark(self):
        """Position in the P1 byte stream (for read_p1(after=...))."""
        with self._p1_cv:
            return len(self._p1_buf)

    def read_p1(self, timeout=5.0, after=None):
        """Next complete P1 telegram (bytes, '/'..CRC CRLF) that starts after stream position
        `after` (default: now). Smarty frames are binary: read them with read_p1_bytes()."""
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

    def read_p1_newest(self, after, timeout=5.0, quiet=0.3):
        """The newest complete P1 telegram (text, '/'..CRC CRLF) written after stream position
        `after`, once the line has been quiet for `quiet` s. After advance() returns, the telegram
        of the second before may still be on its way through the pty: read_p1(after=mark) can
        return that one, this returns the last."""
        buf = self.read_p1_bytes(timeout=timeout, after=after, quiet=quiet)
        i = buf.rfind(b"/")
        j = buf.find(b"!", i) if i >= 0 else -1
        if j < 0 or buf[j + 5:j + 7] != b"\r\n":
            raise RigError("no complete P1 telegram after position %d: %r" % (after, buf[-80:]))
        return buf[i:j + 7]

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

    # --- ground truth in AFE counts (the unix_sim AfeSim model, boards/unix_sim/afe_sim.py) ----------
    # Per phase and channel (import, export, R+, R-) the simulated chip integrates E = sum of
    # max(+-p_mW, 0) (or +-q_mvar) * dt_ms from its creation (this power-on) and the firmware has seen
    # C = floor(E * counts_per_wh / 3.6e9) counts after a read at that virtual ms; counts_per_wh =
    # meter_constant * 100 / 1000. A register holding c counts is exact as wh + rem / N with
    # wh * N + rem == c * D (counts_per_wh = N / D, reduced). Computed here with Python ints and
    # Fractions from the load segments the rig set (acknowledged virtual ms), not with the firmware.

    def counts_per_wh(self):
        """counts_per_wh of the simulated AFE as a Fraction (from the config's calibration, else the
        board default)."""
        cal = (self.config or {}).get("calibration") or _board_calibration()
        mc = cal.get("meter_constant", 3200)
        mc = Fraction(mc[0], mc[1]) if isinstance(mc, (tuple, list)) else Fraction(mc)
        return mc * 100 / 1000

    def _phase_segments(self, phase, end):
        """[(v0, v1, p_mw, q_mvar)] of a phase this power-on, clipped to `end`."""
        segs = [(v, pm, q) for (v, ph, pm, q) in self.segments if ph == phase]
        out = []
        for k, (v, pm, q) in enumerate(segs):
            v2 = min(segs[k + 1][0] if k + 1 < len(segs) else end, end)
            if v2 > v:
                out.append((v, v2, pm, q))
        return out

    def energy_mwms(self, upto_vms=None):
        """{phase: [imp, exp, R+, R-]} integrated energy in mW*ms (varh: mvar*ms) this power-on."""
        end = self._vms if upto_vms is None else upto_vms
        out = {}
        for p in (1, 2, 3):
            e = [0, 0, 0, 0]
            for v, v2, pm, q in self._phase_segments(p, end):
                dt = v2 - v
                e[0 if pm >= 0 else 1] += abs(pm) * dt
                e[2 if q >= 0 else 3] += abs(q) * dt
            out[p] = e
        return out

    def truth_counts(self, upto_vms=None):
        """{phase: [C_imp, C_exp, C_R+, C_R-]}: counts the firmware has after an AFE read at
        `upto_vms` (default: last ack), this power-on."""
        cpw = self.counts_per_wh()
        out = {}
        for p, e in self.energy_mwms(upto_vms).items():
            out[p] = [math.floor(Fraction(x, MWMS_PER_WH) * cpw) for x in e]
        return out

    def truth_energy(self, upto_vms=None, tick_ms=None):
        """Exact energy registers as the firmware must hold them after a metering tick at `upto_vms`
        this power-on (starting from zero): {obis: (wh, rem, N, D)} like query('energy', obis), for
        1-0:1.8.0 / 2.8.0, per phase 21/41/61.8.0 and 22/42/62.8.0, and the reactive sums
        'R+' (= 5.8.0 + 6.8.0) and 'R-' (= 7.8.0 + 8.8.0) as (wh, rem, N, D) of the summed counts.
        With tick_ms (a run where the only ticks with energy were at every multiple of tick_ms, as in
        schedule() on a frozen clock), the quadrants 1-0:5.8.0..8.8.0 too: per tick and phase R+
        counts go to Q1 if the tick's import counts >= its export counts, else Q2 (R- to Q4, else Q3)."""
        end = self._vms if upto_vms is None else upto_vms
        cpw = self.counts_per_wh()
        n, d = cpw.numerator, cpw.denominator
        c = self.truth_counts(end)

        def reg(counts):
            x = counts * d
            return (x // n, x % n, n, d)

        out = {"1-0:1.8.0": reg(sum(c[p][0] for p in c)), "1-0:2.8.0": reg(sum(c[p][1] for p in c)),
               "R+": reg(sum(c[p][2] for p in c)), "R-": reg(sum(c[p][3] for p in c))}
        for p in (1, 2, 3):
            out["1-0:%d.8.0" % (20 * p + 1)] = reg(c[p][0])
            out["1-0:%d.8.0" % (20 * p + 2)] = reg(c[p][1])
        if tick_ms:
            quad = [0, 0, 0, 0]
            for p in (1, 2, 3):
                for k, x in enumerate(self._quadrants(p, end, tick_ms, n, d)):
                    quad[k] += x
            for k in range(4):
                out["1-0:%d.8.0" % (5 + k)] = reg(quad[k])
        return out

    def _quadrants(self, phase, end, tick_ms, n, d):
        """[Q1, Q2, Q3, Q4] counts of a phase with ticks at every multiple of tick_ms up to `end`."""
        segs = self._phase_segments(phase, end)
        if not segs:
            return [0, 0, 0, 0]
        starts = [s[0] for s in segs]
        pre = [[0, 0, 0, 0]]
        for v, v2, pm, q in segs:
            e = list(pre[-1])
            e[0 if pm >= 0 else 1] += abs(pm) * (v2 - v)
            e[2 if q >= 0 else 3] += abs(q) * (v2 - v)
            pre.append(e)
        scale = MWMS_PER_WH * d

        def counts(v):
            # counts of the four channels at virtual ms v (exact ints: floor(E * n / (3.6e9 * d)))
            i = bisect.bisect_right(starts, v) - 1
            if i < 0:
                return [0, 0, 0, 0]
            v0, v1, pm, q = segs[i]
            e = list(pre[i])
            dt = min(v, v1) - v0
            e[0 if pm >= 0 else 1] += abs(pm) * dt
            e[2 if q >= 0 else 3] += abs(q) * dt
            return [x * n // scale for x in e]

        quad = [0, 0, 0, 0]

        def book(a, b, ca, cb):
            # one stretch (a, b] of ticks: import >= export decides Q1/Q4 vs Q2/Q3
            if cb[0] - ca[0] >= cb[1] - ca[1]:
                quad[0] += cb[2] - ca[2]
                quad[3] += cb[3] - ca[3]
            else:
                quad[1] += cb[2] - ca[2]
                quad[2] += cb[3] - ca[3]

        last = end // tick_ms * tick_ms
        t = 0
        ct = counts(0)
        for v, v2, pm, q in segs:
            # ticks whose whole interval lies inside this constant segment, in bulk where the
            # outcome is certain: import load (export counts do not move), or an export load that
            # moves the export counter by >= 1 in every tick
            first = max(t, -(-v // tick_ms) * tick_ms)
            lastin = min(last, v2 // tick_ms * tick_ms)
            while t < first:  # ticks straddling a load change: one by one
                cn = counts(t + tick_ms)
                book(t, t + tick_ms, ct, cn)
                t += tick_ms
                ct = cn
            if lastin <= t:
                continue
            sure = pm >= 0 or (-pm) * tick_ms * n >= scale
            if sure:
                cn = counts(lastin)
                book(t, lastin, ct, cn)
                t, ct = lastin, cn
            else:
                while t < lastin:
                    cn = counts(t + tick_ms)
                    book(t, t + tick_ms, ct, cn)
                    t += tick_ms
                    ct = cn
        while t < last:
            cn = counts(t + tick_ms)
            book(t, t + tick_ms, ct, cn)
            t += tick_ms
            ct = cn
        return quad

    def counts_at(self, vms):
        """Total counts over the three phases [imp, exp, R+, R-] at virtual ms vms (this power-on)."""
        c = self.truth_counts(vms)
        return [sum(c[p][k] for p in c) for k in range(4)]

    # ----------------------------------------------------------------------------- load schedules
    def schedule(self, segments, tick_ms=1000, chunk=200, timeout=900.0):
        """Run a load schedule in the firmware without a round trip per tick (link `sched`).
        segments: iterable of (duration_ms, loads) with loads a 3-sequence (L1, L2, L3) of raw loads
        (mV, mA, p_mW, q_mvar) (see load_raw()). For each segment the meter sets the loads at the
        current virtual ms, then lets duration_ms pass with a metering tick at every multiple of
        tick_ms (virtual ms; time is frozen to real time meanwhile). Every change is recorded with
        the virtual ms the meter acknowledged, so truth()/truth_energy() stay exact. Returns the
        virtual ms at the end."""
        import struct
        segs = list(segments)
        i = 0
        while i < len(segs):
            part = segs[i:i + chunk]
            i += len(part)
            # end every chunk but the last on the tick grid (split a segment, same loads), so that
            # the metering task's own tick between two chunks reads no counts (frozen clock)
            end = self._vms + sum(int(dur) for dur, _ in part)
            over = end % tick_ms
            if i < len(segs) and over and int(part[-1][0]) > over:
                dur, loads = part[-1]
                part[-1] = (int(dur) - over, loads)
                segs[i - 1:i] = [part[-1], (over, loads)]
            data = bytearray()
            for dur, loads in part:
                if len(loads) != 3:
                    raise ValueError("a segment needs the loads of L1, L2, L3")
                data += struct.pack("<I", int(dur))
                for mv, ma, pm, q in loads:
                    data += struct.pack("<IIii", mv, ma, pm, q)
            vms, marks = self._cmd("sched", str(int(tick_ms)), binascii.hexlify(bytes(data)).decode(),
                                   timeout=timeout)
            if not isinstance(marks, list) or len(marks) != len(part):
                raise RigError("sched: bad acknowledgement %r" % (marks,))
            for v, (dur, loads) in zip(marks, part):
                for ph in (1, 2, 3):
                    mv, ma, pm, q = loads[ph - 1]
                    self._segment(v, ph, pm, q)
                    self._loads[ph] = (mv, ma, pm, q)
        return self._vms

    def _check_alive(self, when):
        """RigError at once if the firmware process has exited, with the tail of the meter log."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RigError("the firmware process exited (code %s) %s; meter log (%s), last lines:\n%s" % (
                self.proc.returncode, when, self.log_path, self.meter_log()))

    def meter_log(self):
        try:
            with open(self.log_path, "rb") as f:
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
        with self._send_lock:  # lines from the io, wire and caller threads must not interleave
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
        deadline = time.monotonic() + timeout
        while not w["event"].wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() < deadline and (self.proc is None or self.proc.poll() is None):
                continue
            with self._lock:
                self._waiters.pop(seq, None)
            self._check_alive("during %s" % cmd)
            alive = self.proc is not None and self.proc.poll() is None
            raise RigError("no answer to %s within %.0f s (firmware process %s):\n%s" % (
                cmd, timeout, "running" if alive else "gone", self.meter_log()))
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
            if seq == "*":  # the meter lost a command line (no heap to read it): all waiters fail
                with self._lock:
                    lost = list(self._waiters.values())
                    self._waiters.clear()
                for waiter in lost:
                    waiter["reply"] = reply
                    waiter["event"].set()
                return
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
                c = self.uart_cfg["optical"]
                self.wire.meter_cfg = (int(c[0]), int(c[1]), c[2], int(c[3]))  # 7E1; 8N1 in mode E
                self.wire.cfg_log.append((time.monotonic(),) + self.uart_cfg["optical"])
        elif kind == "out":
            self.outputs[w[1]] = int(w[2])
        elif kind == "hello":
            self._vms = int(w[2])
            self._hello.set()
        elif kind == "rtc":
            # the meter set its RTC: the epoch of this power-on's virtual ms changes with it, so the
            # RTC (battery-backed or not, see rtc_backup) continues from the set time after a cut
            self._epoch = int(w[1])
        elif kind == "relay":
            closed = w[1] == "1"
            vms = int(w[2])
            with self._lock:
                self.relay_closed = closed
                self.relay_log.append((vms, closed))
            for ph, (mv, ma, pm, q) in sorted(self._loads.items()):
                self._segment(vms, ph, pm, q)
        elif kind == "disp":
            text = binascii.unhexlify(w[1]).decode(errors="replace")
            with self._display_cv:
                self.display_lines = (text.split("\n") + [""] * 8)[:8]
                self._display_cv.notify_all()
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
