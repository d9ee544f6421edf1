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

Collisions: send a second frame with a negative gap_us (it overlaps the previous one).
"""
import binascii


class RigAir:
    def __init__(self, rig):
        self.rig = rig

    def send(self, coded, mode, rssi=-60, gap_us=0, rate=None):
        args = ["air", mode, int(rssi), int(gap_us), binascii.hexlify(bytes(coded)).decode()]
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
