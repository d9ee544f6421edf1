# HAL pieces shared by the MCU boards (rp2040, esp32), built on `machine` (deployed as /mcu.py).
# This is the board layer: the only place besides main.py that reads the hardware clock. Board files hold only pin
# maps and wiring and call these. Not imported on the unix_sim board.
import asyncio
import json
import time

import machine

from meter.common import timeutil


class McuClock:
    """Board clock on machine.RTC plus ticks_ms. The RTC is read once at start (and after
    set_time); from then on time runs from ticks_ms so reading it never allocates."""

    def __init__(self, rtc_backup=False):
        self.rtc = machine.RTC()
        self.valid = rtc_backup
        self._sync()

    def _sync(self):
        y, mo, d, _wd, hh, mm, ss, _sub = self.rtc.datetime()
        self._base_s = timeutil.to_secs(y, mo, d, hh, mm, ss)
        self._base_ms = time.ticks_ms()

    def ticks_ms(self):
        return time.ticks_ms()

    @staticmethod
    def ticks_diff(a, b):
        return time.ticks_diff(a, b)

    def time(self):
        d = time.ticks_diff(time.ticks_ms(), self._base_ms)
        if d > 3600000:  # re-base hourly so ticks never wrap between reads
            self._base_s += d // 1000
            self._base_ms = time.ticks_add(self._base_ms, (d // 1000) * 1000)
            d = time.ticks_diff(time.ticks_ms(), self._base_ms)
        return self._base_s + d // 1000

    def time_ms(self):
        d = time.ticks_diff(time.ticks_ms(), self._base_ms)
        return self._base_s + d // 1000, d % 1000

    def set_time(self, t):
        y, mo, d, hh, mm, ss, wd = timeutil.from_secs(t)
        self.rtc.datetime((y, mo, d, wd - 1, hh, mm, ss, 0))
        self._sync()
        self.valid = True

    async def sleep_ms(self, ms):
        await asyncio.sleep_ms(ms)


class SpiDev:
    """An SPI bus plus its chip select (active low)."""

    def __init__(self, bus, cs):
        self.bus, self.cs = bus, cs
        cs.value(1)

    def select(self, on):
        self.cs.value(0 if on else 1)

    def write(self, buf):
        self.bus.write(buf)

    def readinto(self, buf, write=0):
        self.bus.readinto(buf, write)

    def transfer(self, tx, rx):
        self.bus.write_readinto(tx, rx)


class InvertedPin:
    """An input whose electrical level is inverted (e.g. behind an optocoupler)."""

    def __init__(self, pin):
        self.pin = pin

    def value(self, v=None):
        if v is None:
            return 1 - self.pin.value()
        self.pin.value(0 if v else 1)

    def irq(self, handler=None, trigger=None):
        p = self
        self.pin.irq(handler=(lambda _pin: handler(p)) if handler else None,
                     trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)


class BlockStorage:
    """Storage on a block device with the extended block protocol (esp32.Partition, rp2.Flash):
    readblocks(n, buf, off), writeblocks(n, buf, off), ioctl(6, n) to erase one block."""

    def __init__(self, dev, block_size=4096):
        self.dev = dev
        self.block_size = block_size
        self.size = dev.ioctl(4, 0) * block_size

    def read(self, offset, buf):
        self._check(offset, len(buf))
        self.dev.readblocks(offset // self.block_size, buf, offset % self.block_size)

    def write(self, offset, data):
        self._check(offset, len(data))
        self.dev.writeblocks(offset // self.block_size, data, offset % self.block_size)

    def erase(self, block):
        self.dev.ioctl(6, block)

    def _check(self, offset, n):
        if offset < 0 or offset + n > self.size or (offset % self.block_size) + n > self.block_size:
            raise ValueError("storage access out of range or across a block")


class FileStorage:
    """Storage in a littlefs file, for boards without a raw region. littlefs is copy-on-write,
    so a torn write leaves the old data; the journal's CRCs still guard each record."""

    def __init__(self, path="/meter.dat", size=64 * 1024, block_size=4096):
        self.size, self.block_size, self.path = size, block_size, path
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        f.seek(0, 2)
        have = f.tell()
        blk = b"\xff" * 256
        while have < size:
            f.write(blk)
            have += len(blk)
        f.flush()
        self.f = f

    def read(self, offset, buf):
        self.f.seek(offset)
        self.f.readinto(buf)

    def write(self, offset, data):
        self.f.seek(offset)
        self.f.write(data)
        self.f.flush()

    def erase(self, block):
        blk = b"\xff" * 256
        self.f.seek(block * self.block_size)
        for _ in range(self.block_size // 256):
            self.f.write(blk)
        self.f.flush()


class KeyStore:
    """Keys from /keys.json (hex), provisioned at the factory with mpremote. Never readable over a
    meter port; only services that need a key get it."""

    def __init__(self, path="/keys.json"):
        try:
            with open(path) as f:
                self._keys = json.load(f)
        except (OSError, ValueError):
            self._keys = {}

    def get(self, name):
        import binascii
        v = self._keys.get(name)
        return binascii.unhexlify(v) if v else None


def load_config(defaults, path="/config/board.json"):
    try:
        with open(path) as f:
            over = json.load(f)
    except (OSError, ValueError):
        return defaults
    for k in over:
        if isinstance(over[k], dict) and isinstance(defaults.get(k), dict):
            defaults[k].update(over[k])
        else:
            defaults[k] = over[k]
    return defaults


class McuBoard:
    """The HAL contract for a `machine` board, built from a board file's tables:
    pins:  {name: (gpio, "in"|"out", pull, inverted)}
    uarts: {role: (id, baudrate, kwargs)}   (tx/rx pins as GPIO numbers in kwargs)
    spis:  {name: (id, baudrate, kwargs, cs_gpio)}
    i2c:   (id, freq, {"sda": gpio, "scl": gpio}) of the customer-interface bus, or None
    ui:    {"display": i2c address of the SSD1306, "keypad": address of the PCF8574}
    storage: callable returning the storage object (a raw flash region, else a littlefs file).
    `display` / `keypad` are None when the board has none or the part does not answer at boot
    (the meter meters without them)."""

    def __init__(self, name, config, pins, uarts, spis, storage, i2c=None, ui=None):
        from machine import Pin
        self.name = name
        self.config = config
        self.config_dir = "/config"
        self.clock = McuClock(config.get("rtc_backup", False))
        self._uart_defs, self._spi_defs = uarts, spis
        self._uarts, self._spis, self._pins = {}, {}, {}
        for pname, (gpio, mode, pull, inverted) in pins.items():
            if mode == "out":
                p = Pin(gpio, Pin.OUT, value=0)
            else:
                p = Pin(gpio, Pin.IN, pull) if pull is not None else Pin(gpio, Pin.IN)
            self._pins[pname] = InvertedPin(p) if inverted else p
        try:
            self.storage = storage()
        except (ImportError, OSError, ValueError) as e:
            # no raw flash partition on this board/image (e.g. a stock image without our _boot.py):
            # a file on the filesystem instead, said out loud so a wrong partition table is noticed
            print("board: raw flash storage unavailable (%r): using /meter.dat" % (e,))
            self.storage = FileStorage("/meter.dat", 256 * 1024)
        self.keys = KeyStore()
        self.afe = self._make_afe()
        self.display = self.keypad = None
        if i2c is not None:
            self._make_ui(i2c, ui or {})

    def _make_ui(self, i2c, ui):
        from machine import I2C, Pin
        bid, freq, kw = i2c
        bus = I2C(bid, freq=freq, sda=Pin(kw["sda"]), scl=Pin(kw["scl"]))
        found = bus.scan()
        if ui.get("display") in found:
            from meter.drivers.ssd1306 import SSD1306
            from meter.drivers.display import TextDisplay
            self.display = TextDisplay(SSD1306(bus, ui["display"]))
        if ui.get("keypad") in found:
            from meter.drivers.keypad import Pcf8574Keypad
            self.keypad = Pcf8574Keypad(bus, ui["keypad"])

    def _make_afe(self):
        from meter.drivers import afe
        chip = self.config.get("afe", "atm90e32")
        bus = self.uart("afe") if chip == "bl0942" else self.spi("afe")
        return afe.make(chip, bus, self.config["calibration"])

    def uart(self, role):
        u = self._uarts.get(role)
        if u is None:
            if role not in self._uart_defs:
                raise ValueError("no UART for " + role)
            from machine import UART
            uid, baud, kw = self._uart_defs[role]
            kw = dict(kw)
            if kw.pop("invert_tx", False):
                kw["invert"] = UART.INV_TX
            u = self._uarts[role] = UART(uid, baud, **kw)
        return u

    def pin(self, name):
        return self._pins[name]

    def spi(self, name):
        s = self._spis.get(name)
        if s is None:
            if name not in self._spi_defs:
                raise ValueError("no SPI for " + name)
            from machine import Pin, SPI
            sid, baud, kw, cs = self._spi_defs[name]
            kw = dict(kw)
            for k in ("sck", "mosi", "miso"):
                if k in kw:
                    kw[k] = Pin(kw[k])
            s = self._spis[name] = SpiDev(SPI(sid, baud, **kw), Pin(cs, Pin.OUT, value=1))
        return s

    def tasks(self):
        return []

    def log(self, text):
        print(text)
