# Board: Raspberry Pi Pico (RP2040) meter module. Pin map and wiring only; logic lives in firmware/.
#
#   function            pin(s)                         notes
#   optical port UART0  GP0 TX (IR LED), GP1 RX (IR)   300 baud 7E1 at start (IEC 62056-21)
#   P1 UART1 TX         GP4 TX                         115200 8N1, TX inverted in the UART (open-
#                                                      collector P1 output stage, DSMR 5.0.2 §5.4)
#   P1 request in       GP6                            via optocoupler, active low -> inverted here
#   AFE ATM90E32 SPI1   GP10 SCK, GP11 MOSI, GP12 MISO, GP13 CS, GP14 IRQ0
#   CC1101 SPI0         GP18 SCK, GP19 MOSI, GP16 MISO, GP17 CSn, GP20 GDO0, GP21 GDO2
#   relay coils         GP2 (coil A: open), GP3 (coil B: close)   latching relay via H-bridge
#   relay feedback      GP7                            auxiliary contact, 1 = closed
#   reconnect button    GP15                           pull-up, active low
#   pulse LED           GP22                           metrological LED (imp/kWh)
#   cover switch        GP26                           1 = open
#   power-fail in       GP27                           DC rail comparator, active low
#   storage             raw flash region: last 256 KB below the filesystem (rp2.Flash(start, len)),
#                       or /meter.dat on littlefs if the firmware has no region
from machine import Pin, SPI, UART

import mcu

CALIBRATION = {
    # ATM90E32 defaults for a 230 V / 60 A board with 1 mOhm shunts; replace with the values from
    # the calibration procedure (firmware/meter/afe/CALIBRATION.md).
    "ugain": [0x9A5B, 0x9A5B, 0x9A5B], "igain": [0x7530, 0x7530, 0x7530],
    "meter_constant": 10000, "counts_per_wh": 1000, "line_freq": 50,
}

CONFIG = {
    "identity": {"manufacturer": "OMT", "model": "OMT-RP2040", "equipment_id": "", "serial": "",
                 "optical_address": ""},
    "afe": "atm90e32",
    "calibration": CALIBRATION,
    "rtc_backup": False,  # the Pico has no battery-backed RTC
}


class Board:
    name = "rp2040"

    def __init__(self, config):
        self.config = config
        self.clock = mcu.McuClock(config.get("rtc_backup", False))
        self._uarts = {}
        self._pins = {
            "p1_req": mcu.InvertedPin(Pin(6, Pin.IN, Pin.PULL_UP)),
            "relay_a": Pin(2, Pin.OUT, value=0),
            "relay_b": Pin(3, Pin.OUT, value=0),
            "relay_fb": Pin(7, Pin.IN, Pin.PULL_UP),
            "button": mcu.InvertedPin(Pin(15, Pin.IN, Pin.PULL_UP)),
            "led_pulse": Pin(22, Pin.OUT, value=0),
            "cover": Pin(26, Pin.IN, Pin.PULL_DOWN),
            "pfail": mcu.InvertedPin(Pin(27, Pin.IN, Pin.PULL_UP)),
        }
        self._spi = {}
        try:
            import rp2
            self.storage = mcu.BlockStorage(rp2.Flash(start=-256 * 1024, len=256 * 1024))
        except Exception:
            self.storage = mcu.FileStorage("/meter.dat", 256 * 1024)
        self.keys = mcu.KeyStore()
        self.afe = self._make_afe()

    def _make_afe(self):
        from meter.afe.atm90e32 import ATM90E32
        return ATM90E32(self.spi("afe"), self.config["calibration"])

    def uart(self, role):
        u = self._uarts.get(role)
        if u is None:
            if role == "optical":
                u = UART(0, 300, bits=7, parity=0, stop=1, tx=Pin(0), rx=Pin(1), rxbuf=512)
            elif role == "p1":
                u = UART(1, 115200, bits=8, parity=None, stop=1, tx=Pin(4), invert=UART.INV_TX, txbuf=1024)
            else:
                raise ValueError("no UART for " + role)
            self._uarts[role] = u
        return u

    def pin(self, name):
        return self._pins[name]

    def spi(self, name):
        s = self._spi.get(name)
        if s is None:
            if name == "afe":
                s = mcu.SpiDev(SPI(1, 200000, polarity=1, phase=1, sck=Pin(10), mosi=Pin(11), miso=Pin(12)),
                               Pin(13, Pin.OUT, value=1))
            elif name == "radio":
                s = mcu.SpiDev(SPI(0, 4000000, sck=Pin(18), mosi=Pin(19), miso=Pin(16)),
                               Pin(17, Pin.OUT, value=1))
            else:
                raise ValueError("no SPI for " + name)
            self._spi[name] = s
        return s

    def tasks(self):
        return []

    def log(self, text):
        print(text)


def make(config=None):
    return Board(mcu.load_config(config or CONFIG))
