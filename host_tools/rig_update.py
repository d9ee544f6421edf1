"""The rig side of firmware updates: the unix_sim meter boots from its own simulated flash.

    fb = FlashBoot(rig)                 before rig.start(): the firmware runs from <rig tmp>/flash
    fb.deploy(package_bytes)            factory deploy: main.py, bootsel.py, config/, fw/a, fw/boot
    rig.start()
    fb.next_boot_fault("crash"|"hang")  the next boot only: crash after hello / health never passes
    fb.wait_reset(timeout)              the meter reset itself (after a switch or a rollback): power
                                        it up again (a boot that crashes is powered up once more)
    fb.pointer()                        the slot pointer line, fb.slot_files(slot) the slot's files
    fb.stage_partial(client, data, n)   stage exactly n bytes of a package (then cut the power)

The flash directory is the meter's root filesystem as on an RP2040/ESP32 with stock MicroPython:
main.py and bootsel.py (fixed), config/ (calendar defaults), fw/ (the slots, the pointer, the
staging file). The storage region (registers, credit, events) stays in the rig's storage image,
outside the swapped tree. Without FlashBoot the rig boots the repository's sources as before.
"""
import os
import shutil
import time

from .rig import ROOT, RigError
from .update import package as P
from .update import push as U


class FlashBoot:
    def __init__(self, rig):
        self.rig = rig
        self.dir = os.path.join(rig._tmp, "flash")
        self._fault = None
        rig.boot_hook = self._hook

    def _hook(self, cmd, env):
        env = dict(env)
        env["MICROPYPATH"] = ".frozen"  # sys.path[0] is the script's dir; bootsel adds the slot
        env.pop("METER_SIM_BOOT_FAULT", None)
        if self._fault:
            env["METER_SIM_BOOT_FAULT"], self._fault = self._fault, None
        cmd = list(cmd)
        cmd[-1] = os.path.join(self.dir, "main.py")
        return cmd, env, self.dir

    def deploy(self, data):
        """Empty the flash and install a full package into slot a as the confirmed firmware."""
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "fw", "a"))
        os.makedirs(os.path.join(self.dir, "config"))
        for name in P.FIXED:
            shutil.copy(os.path.join(ROOT, "firmware", name), os.path.join(self.dir, name))
        shutil.copy(os.path.join(ROOT, "firmware", "config", "tariff.json"),
                    os.path.join(self.dir, "config", "tariff.json"))
        man = P.install(data, os.path.join(self.dir, "fw", "a"))
        with open(os.path.join(self.dir, "fw", "boot"), "w") as f:
            f.write("a a ok 0\n")
        return man

    def next_boot_fault(self, kind):
        if kind not in ("crash", "hang"):
            raise ValueError(kind)
        self._fault = kind

    def pointer(self):
        with open(os.path.join(self.dir, "fw", "boot")) as f:
            return f.read().split()

    def slot_files(self, slot):
        base = os.path.join(self.dir, "fw", slot)
        out = {}
        for dirpath, _, files in os.walk(base):
            for name in files:
                p = os.path.join(dirpath, name)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, base).replace(os.sep, "/")] = f.read()
        return out

    def wait_reset(self, timeout=20.0, retries=2):
        """Wait until the firmware process ended by itself, then power up again (once more when
        that boot crashes too). Returns the process exit codes seen."""
        rig = self.rig
        codes = []
        deadline = time.monotonic() + timeout
        while rig.proc is not None and rig.proc.poll() is None:
            if time.monotonic() > deadline:
                raise RigError("the meter did not reset:\n" + rig.meter_log())
            time.sleep(0.05)
        for _ in range(retries + 1):
            codes.append(rig.proc.returncode if rig.proc is not None else None)
            self._off()
            try:
                rig.power_restore(off_s=0)
                return codes
            except RigError:
                while rig.proc is not None and rig.proc.poll() is None:
                    time.sleep(0.05)
        raise RigError("the meter does not boot:\n" + rig.meter_log())

    def _off(self):
        """The process is gone: book the power-off as power_cut() does, without asking the meter."""
        rig = self.rig
        rig._world_vms = rig._vms
        rig._cut_real = time.monotonic()
        rig._kill()

    def stage_partial(self, client, data, n, chunk=U.CHUNK_MAX):
        """Stage the first n bytes of a package (the push interrupted at byte n)."""
        off = 0
        while off < n:
            part = data[off:min(off + chunk, n)]
            client.write(U.OBJ_CHUNK, "%d:%s,%08X" % (off, part.hex().upper(), U.crc32(part)))
            off += len(part)
