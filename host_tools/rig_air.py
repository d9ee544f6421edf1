"""The rig's shared wireless M-Bus "air" (attached as `rig.air`).

The air lives in the sim board process, on the CC1101 model (boards/unix_sim/cc1101_sim.py), so
every chip is placed exactly in virtual time; the rig only queues transmissions and lets virtual
time run (`set radio ...`, firmware/meter/app/sim.py). Needs a rig started with config
{"radio": {...}}.

    rig.air.send(coded, "T1", rssi=-60, gap_us=0)   # bytes after the sync word as on air (T1
                                                    # 3-of-6 chips, C1 0x54 0xCD/0x3D + frame);
                                                    # starts gap_us after the last transmission
    rig.air.send(coded, "C1", rate=50000)           # a transmitter at the wrong data rate
    rig.air.noise(40, rssi=-70)                     # random chips, no preamble
    rig.air.run(ms, service_ms=1)                   # let time pass; the radio port is serviced
                                                    # every service_ms (a late reader: more)
    rig.air.sent()                                  # [(bytes after sync, mode, start us)]
    rig.air.stats(), rig.air.frames()               # link counters; last frames' fields
    port = rig.air.serve()                          # the monitor feed on 127.0.0.1:port (below)
    rig.air.stop_serving()

Monitor feed (what `python -m host_tools radio monitor socket://127.0.0.1:<port>` reads): one JSON
object per line per frame the meter received, {"frame": {fields, rssi, lqi, hex}, "stats": {...}},
polled from the firmware (`get radio`) every `poll_s` of real time.

Collisions: send a second frame with a negative gap_us (it overlaps the previous one).
"""
import binascii
import json
import socket
import threading


class RigAir:
    def __init__(self, rig):
        self.rig = rig
        self._srv = None
        self._stop = threading.Event()
        self._threads = []
        self.clients = 0  # monitor clients that have started their feed

    PART = 96  # bytes per command line when staging a long frame (the meter's heap may be small)

    def send(self, coded, mode, rssi=-60, gap_us=0, rate=None):
        coded = bytes(coded)
        hx = "-"  # long frames: staged in pieces, no big line or string in the meter
        for off in range(0, len(coded) if len(coded) > self.PART else 0, self.PART):
            r = self.rig.command("radio", "part", off, len(coded),
                                 binascii.hexlify(coded[off:off + self.PART]).decode())
            if isinstance(r, dict):
                raise ValueError(r.get("error"))
        if len(coded) <= self.PART:
            hx = binascii.hexlify(coded).decode()
        args = ["air", mode, int(rssi), int(gap_us), hx]
        if rate:
            args.append(int(rate))
        r = self.rig.command("radio", *args)
        if isinstance(r, dict):
            raise ValueError(r.get("error"))
        return r  # [start us, end us]

    def noise(self, nbytes, rssi=-95, gap_us=0, mode="C1"):
        return self.rig.command("radio", "noise", int(nbytes), int(rssi), int(gap_us), mode)

    def run(self, ms, service_ms=1):
        return self.rig.command("radio", "run", int(ms), int(service_ms), timeout=120.0)

    def sent(self):
        return [(binascii.unhexlify(h), m, t) for h, m, t in self.rig.query("radio", "sent")]

    def status(self):
        return self.rig.query("radio")

    def stats(self):
        return self.status()["stats"]

    def frames(self):
        return self.status()["frames"]

    # --- monitor feed -------------------------------------------------------------------------
    def serve(self, port=0, poll_s=0.2):
        """Serve the monitor feed on 127.0.0.1:port (0: any free port); returns the port."""
        self._stop.clear()
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(4)
        srv.settimeout(0.2)
        self._srv = srv
        t = threading.Thread(target=self._accept, args=(poll_s,), daemon=True)
        t.start()
        self._threads.append(t)
        return srv.getsockname()[1]

    def _accept(self, poll_s):
        while not self._stop.is_set():
            try:
                c, _ = self._srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._feed, args=(c, poll_s), daemon=True)
            t.start()
            self._threads.append(t)

    def _feed(self, conn, poll_s):
        seen = None
        with conn:
            while not self._stop.is_set():
                st = self.status()
                n = st["stats"]["received"]
                if seen is None:
                    seen = n  # a new client sees frames from now on
                    self.clients += 1
                new = st["frames"][len(st["frames"]) - min(n - seen, len(st["frames"])):] if n > seen else []
                seen = n
                try:
                    for f in new:
                        conn.sendall((json.dumps({"frame": f, "stats": st["stats"]}) + "\n").encode())
                except OSError:
                    return
                self._stop.wait(poll_s)

    def stop_serving(self):
        self._stop.set()
        if self._srv is not None:
            self._srv.close()
            self._srv = None
        for t in self._threads:
            t.join(2)
        self._threads = []
