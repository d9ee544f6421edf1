"""The console's view of the rig: one sampler thread asks the rig once per `period_s` of real time
and keeps the latest snapshot plus a bounded ring of power samples. Browsers read these copies, so
any number of open pages costs the meter nothing more."""
import binascii
import collections
import datetime
import threading
import time

from host_tools.rig import RigError, UNIX_2020

# net active power per phase: (import, export) demand registers (IEC 62056-61 / DSMR: L1 21/22,
# L2 41/42, L3 61/62 .7.0; total 1/2 .7.0)
POWER = (("P", "1-0:1.7.0", "1-0:2.7.0"), ("L1", "1-0:21.7.0", "1-0:22.7.0"),
         ("L2", "1-0:41.7.0", "1-0:42.7.0"), ("L3", "1-0:61.7.0", "1-0:62.7.0"))
P1_TAIL = 16384  # bytes of the P1 stream looked at for the newest telegram (a telegram is < 2 KB)
WIRE_LOG = 20  # optical line rows shown
WIRE_SCAN = 400  # newest line pieces merged into them (the meter's replies go out 16 bytes a piece)


def scaled(reg):
    """(value, scaler, unit) -> value * 10**scaler as a float."""
    return reg[0] * 10.0 ** reg[1]


def newest_telegram(buf):
    """The newest complete P1 telegram in buf ('/'..'!' CRC CRLF, DSMR 5 / IEC 62056-21 mode D) as
    text; for a binary stream (Smarty: DLMS general-global-cipher frames) the last bytes in hex."""
    end = len(buf)
    while True:
        j = buf.rfind(b"!", 0, end)
        if j < 0:
            break
        i = buf.rfind(b"/", 0, j)
        if i >= 0 and buf[j + 5:j + 7] == b"\r\n":
            return {"kind": "text", "text": buf[i:j + 7].decode("ascii", "replace")}
        end = j
    if not buf:
        return None
    return {"kind": "binary", "hex": binascii.hexlify(buf[-512:]).decode()}


def clock_view(q):
    """The meter's `get time` answer -> local time, UTC and the zone's offset (from the two)."""
    utc = datetime.datetime.fromtimestamp(q["t"] + UNIX_2020, datetime.timezone.utc)
    local = datetime.datetime.strptime(q["iso"], "%Y-%m-%d %H:%M:%S")
    off = int((local - utc.replace(tzinfo=None)).total_seconds()) // 60
    return {"t": q["t"], "local": q["iso"], "utc": utc.strftime("%Y-%m-%d %H:%M:%S"),
            "offset": "UTC%s%02d:%02d" % ("+" if off >= 0 else "-", abs(off) // 60, abs(off) % 60),
            "dst": q["dst"], "valid": q["valid"]}


class Sampler:
    """Polls the rig (see the module docstring). `snapshot()` and `history()` are what the server
    serves; `lock` serialises the sampler with the console's controls (a power cut or restore takes
    the rig away for seconds)."""

    def __init__(self, rig, period_s=1.0, ring=7200):
        self.rig = rig
        self.period_s = period_s
        self.lock = threading.Lock()
        self.samples = collections.deque(maxlen=ring)  # (meter s, P, L1, L2, L3) in kW
        self.samples_taken = 0
        self._snap = {"powered": False, "rate": rig.time_rate}  # until the first sample
        self._stop = threading.Event()
        self.thread = None
        self._optional = {}  # query -> False once the meter showed it has no such service
        self.busy = ""  # what a control is doing (shown while the rig is away)

    def start(self):
        self.thread = threading.Thread(target=self._loop, name="console-sampler", daemon=True)
        self.thread.start()

    def stop(self):
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def snapshot(self):
        snap = dict(self._snap)
        snap["busy"] = self.busy
        return snap

    def history(self, since=None):
        out = list(self.samples)
        if since is not None:
            out = [s for s in out if s[0] > since]
        return out

    def power_on_changed(self):
        """After a power cycle the meter may have other services: ask again."""
        self._optional = {}

    def _loop(self):
        while not self._stop.is_set():
            with self.lock:
                self.sample()
            self._stop.wait(self.period_s)

    def _opt(self, what):
        """An optional service's state (prepayment, radio), or None where the meter has none: asked
        again only after the next power-on."""
        if self._optional.get(what) is False:
            return None
        try:
            r = self.rig.query(what, timeout=5.0)
        except RigError:
            r = None
        self._optional[what] = r is not None
        return r

    def sample(self):
        """One sample of everything the panels show (call with `lock` held)."""
        rig = self.rig
        snap = {"powered": rig.powered, "rate": rig.time_rate, "relay": self._relay(),
                "display": rig.display(), "optical": self._wire(), "p1": None}
        if rig.powered:
            try:
                regs = rig.registers()
                clock = clock_view(rig.query("time", timeout=5.0))
                snap.update(
                    registers=[[k, v[0], v[1], v[2]] for k, v in sorted(regs.items())],
                    clock=clock, tariff=rig.query("rate", timeout=5.0),
                    optical_session=rig.query("optical", timeout=5.0),
                    supply=rig.query("supply", timeout=5.0), credit=self._opt("credit"),
                    radio=self._opt("radio"))
                power = [round(scaled(regs[i]) - scaled(regs[e]), 3) if i in regs else 0.0
                         for _, i, e in POWER]
                snap["power"] = dict(zip([n for n, _, _ in POWER], power))
                if not self.samples or self.samples[-1][0] != clock["t"]:
                    self.samples.append([clock["t"]] + power)
                    self.samples_taken += 1
            except RigError as e:  # the meter went away meanwhile (a cut): shown as off
                snap["powered"] = False
                snap["error"] = str(e).splitlines()[0]
        mark = rig.p1_mark()
        snap["p1"] = newest_telegram(rig.read_p1_bytes(timeout=0, after=max(0, mark - P1_TAIL)))
        snap["p1_bytes"] = mark
        self._snap = snap

    def _relay(self):
        r = self.rig.relay()
        return {"closed": r["closed"], "fault": r["fault"], "changes": len(r["changes"])}

    def _wire(self):
        """Optical port activity as the rig's line sees it: byte counters, the line pieces (time
        ago, direction, bauds, bytes, garbled) and the meter's current line settings."""
        w = self.rig.wire
        if w is None:
            return None
        return {"port": w.port, "meter_baud": w.meter_baud, "client_baud": w.client_baud(),
                "clean": dict(w.clean), "garbled": dict(w.garbled), "echoed": w.echoed,
                "log": line_rows(w.log[-WIRE_SCAN:], time.monotonic())[-WIRE_LOG:]}


def line_rows(pieces, now):
    """The wire's pieces (t, direction, sender baud, receiver baud, bytes, garbled), consecutive ones
    alike merged: [[s ago of the last, direction, sender baud, receiver baud, bytes, garbled]]."""
    rows = []
    for t, d, sb, rb, n, bad in pieces:
        if rows and rows[-1][1:4] == [d, sb, rb] and rows[-1][5] == bad:
            rows[-1][0] = t
            rows[-1][4] += n
        else:
            rows.append([t, d, sb, rb, n, bad])
    for r in rows:
        r[0] = round(now - r[0], 1)
    return rows
