# unix_sim board: the HAL contract (boards/README.md) implemented against the virtual rig.
#
# The rig (host_tools/rig.py) starts `micropython firmware/main.py` with this directory on the path
# and these environment variables:
#   METER_SIM_LINK     host:port of the rig's link socket (loopback)
#   METER_SIM_STORAGE  path of the storage image file (the flash region)
#   METER_SIM_EPOCH    meter seconds (UTC since 2020) at virtual ms 0
#   METER_SIM_RATE     virtual ms per real ms (integer; 0 = time moves only when the rig advances it)
#   METER_SIM_P1_PACE  "virtual" (default: one P1 telegram per virtual second) or "real" (one per
#                      real second whatever METER_SIM_RATE: `make sim`)
#   METER_SIM_RTC      "1" if the RTC kept time across the power cut (battery-backed), else "0"
#   METER_SIM_CONFIG   optional JSON file with board config overrides (identity, keys, options)
#   METER_SIM_BOOT_FAULT  optional, this boot only (host_tools/rig_update.py): "crash" (the
#                      firmware dies right after hello, as a crash + watchdog reset would) or
#                      "hang" (the update trial's health check never passes)
#   METER_SIM_RELAY    "1" / "0": the latching supply relay's contact at power-up (it keeps its
#                      position through a cut), METER_SIM_RELAY_FAULT "ok" | "welded" | "open_coil"
#
# Simulated devices: sim_devices.py (clock, pins, UARTs, flash), afe_sim.py (ATM90E32), relay_sim.py
# (the supply relay), ui_sim.py (display, keypad); rig_link.py serves the link.
#
# Link protocol: one line per message, ASCII, space separated, hex for bytes.
#   rig -> meter: load <seq> <phase> <mV> <mA> <p_mW> <q_mvar> | adv <seq> <ms> | rx <uart> <hex>
#                 pin <seq> <name> <0|1> | get <seq> <what> | fault <seq> <kind> <arg> | ping <seq>
#                 keys <seq> <hex> (typed on the keypad) | set <seq> <what> ... | sched ...
#                 rate <seq> <n> (virtual ms per real ms from now on)
#   meter -> rig: hello unix_sim <vms> | ok <seq> <vms> [json] | err <seq> <reason>
#                 (err * <reason>: a command line lost for lack of heap; every waiting command fails)
#                 tx <uart> <hex> | cfg <uart> <baud> <bits> <parity> <stop> | out <pin> <0|1>
#                 log <text> | hit <fault> | rtc <epoch> | relay <0|1> <vms> | disp <hex lines>
# Everything the meter does on the link is in virtual time; `ok` carries the virtual ms at which a
# command took effect, so the rig can compute ground truth exactly.
import os
import json
import binascii

from calibration import CALIBRATION
from sim_devices import SimClock, LineClock, SimPin, SimUart, SimStorage
from rig_link import Link, RigLink
from relay_sim import RelaySim
from ui_sim import SimDisplay, SimKeypad


def _env(name, default=None):
    v = os.getenv(name)
    return default if v is None else v


class KeyStore:
    def __init__(self, keys):
        self._keys = keys

    def get(self, name):
        v = self._keys.get(name)
        return binascii.unhexlify(v) if v else None


class Board:
    name = "unix_sim"

    def __init__(self, config=None):
        cfg = {
            "identity": {"manufacturer": "OMT", "model": "OMT-SIM", "equipment_id": "OMT0000000001",
                         "serial": "00000001", "optical_address": "00000001"},
            "keys": {},
            "afe": "atm90e32",
            "calibration": CALIBRATION,
            "rtc_backup": _env("METER_SIM_RTC", "1") == "1",
        }
        path = _env("METER_SIM_CONFIG")
        if path:
            with open(path) as f:
                over = json.load(f)
            for k in over:
                if isinstance(over[k], dict) and isinstance(cfg.get(k), dict):
                    cfg[k].update(over[k])
                else:
                    cfg[k] = over[k]
        if config:
            cfg.update(config)
        self.config = cfg
        self.link = Link(_env("METER_SIM_LINK", "127.0.0.1:0"))
        epoch = int(_env("METER_SIM_EPOCH", "0"))
        self.clock = SimClock(epoch, int(_env("METER_SIM_RATE", "1")), valid=cfg["rtc_backup"])
        self.clock.on_set = lambda e: self.link.send("rtc %d\n" % e)
        self.line_clock = LineClock()  # real-time ticks for the optical port's protocol timing
        # P1 cadence (ports/p1.py pace): "real" one telegram per real second whatever the virtual
        # rate (`make sim`), "virtual" one per virtual second (the rig's default, for tests)
        self.p1_pace = self.line_clock if _env("METER_SIM_P1_PACE", "virtual") == "real" else None
        self._uarts = {}
        self._pins = {}
        for name, v, out in (("p1_req", 1, False), ("relay_a", 0, True), ("relay_b", 0, True),
                             ("relay_fb", 1, False), ("button", 0, False), ("led_pulse", 0, True),
                             ("cover", 0, False), ("pfail", 0, False)):
            self._pins[name] = SimPin(self.link, name, v, out)
        spath = _env("METER_SIM_STORAGE", "/tmp/meter_sim_storage.bin")
        self.storage = SimStorage(self.link, spath)
        # writable configuration (the device's /config): beside the storage image
        self.config_dir = spath.rsplit("/", 1)[0] if "/" in spath else "."
        self.keys = KeyStore(cfg["keys"])
        self.afe = self._make_afe()
        # the latching supply relay keeps its position across power cuts: the rig tells us where
        # it was (METER_SIM_RELAY "1" closed / "0" open, METER_SIM_RELAY_FAULT)
        self.relay_sim = RelaySim(self.clock.sim_ms, self._pins["relay_fb"], self.afe_sim, self.link,
                                  _env("METER_SIM_RELAY", "1") == "1", _env("METER_SIM_RELAY_FAULT", "ok"))
        self._pins["relay_a"].watch = self._pins["relay_b"].watch = self.relay_sim.coil
        self.display = SimDisplay(self.link)
        self.keypad = SimKeypad()
        self._make_radio()
        self.rig = RigLink(self)  # serves the rig's commands (inputs, time, queries)

    def _make_afe(self):
        from afe_sim import AfeSim, AfeSimSpi
        from meter.drivers.afe.atm90e32 import ATM90E32
        cal = self.config["calibration"]
        self.afe_sim = AfeSim(self.clock.sim_ms, cal)
        return ATM90E32(AfeSimSpi(self.afe_sim), cal)

    def _make_radio(self):
        """The CC1101 on SPI "radio" with GDO0/GDO2 (cc1101_sim.py, a register-level model on a
        microsecond view of the virtual clock), only when the config enables the radio."""
        self.radio_sim = None
        if self.config.get("radio") in (None, False):
            return
        from cc1101_sim import Cc1101Sim
        clk = self.clock
        self.radio_sim = sim = Cc1101Sim(lambda: clk.sim_ms() * 1000, ticks_per_s=1000000)
        self._pins["radio_gdo0"] = sim.gdo0
        self._pins["radio_gdo2"] = sim.gdo2

    def uart(self, role):
        u = self._uarts.get(role)
        if u is None:
            if role == "optical":
                # client->meter bytes arrive unpaced from the rig (a real wire paces them at the
                # baud rate, so 512 bytes of FIFO are plenty on the MCUs); a larger FIFO here
                # keeps a burst from overrunning it
                u = SimUart(self.link, role, 300, 7, 0, 1, rxbuf=1024)
            elif role == "p1":
                u = SimUart(self.link, role, 115200, 8, None, 1, rxbuf=16)
            else:
                u = SimUart(self.link, role, 4800, 8, None, 1)
            self._uarts[role] = u
        return u

    def pin(self, name):
        return self._pins[name]

    def spi(self, name):
        if name == "radio" and self.radio_sim is not None:
            return self.radio_sim.spi
        raise OSError("unix_sim: no raw SPI bus %s (the AFE is simulated at register level)" % name)

    def tasks(self):
        if _env("METER_SIM_BOOT_FAULT") == "crash":
            return [self.rig.run(), self._crash()]
        return [self.rig.run()]

    # firmware update (services/update.py): reset, and the rig's boot faults
    health_fault = _env("METER_SIM_BOOT_FAULT") == "hang"

    async def _crash(self):
        import asyncio
        await asyncio.sleep_ms(200)
        self.log("sim: boot fault: firmware crashed")
        self.reset()

    def reset(self):
        """machine.reset(): the process ends; the rig powers the meter up again."""
        import sys
        self.link.flush_blocking()
        sys.exit(75)

    def attach(self, hooks):
        """The app's simulation hooks (meter/app/sim.py): the rig's time, query and command lines
        reach the app only through them."""
        self.rig.hooks = hooks

    def log(self, text):
        self.link.send("log " + text.replace("\n", " ") + "\n")


def make(config=None):
    return Board(config)
