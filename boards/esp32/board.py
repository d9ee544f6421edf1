# Board: ESP32-DevKitC (ESP32-WROOM-32) meter module. Pin map and wiring only.
#
#   function            pin(s)                         notes
#   optical port UART1  GPIO32 TX (IR LED), GPIO33 RX  300 baud 7E1 at start (IEC 62056-21)
#   P1 UART2 TX         GPIO17 TX                      115200 8N1, TX inverted in the UART
#   P1 request in       GPIO34 (input only)            via optocoupler, active low -> inverted
#   AFE ATM90E32 HSPI   GPIO14 SCK, GPIO13 MOSI, GPIO26 MISO, GPIO25 CS (avoids strapping GPIO12/15)
#   CC1101 VSPI         GPIO18 SCK, GPIO23 MOSI, GPIO19 MISO, GPIO5 CSn, GPIO4 GDO0, GPIO16 GDO2
#   relay coils         GPIO21 (coil A: open), GPIO22 (coil B: close)  latching relay via H-bridge
#   relay feedback      GPIO35 (input only)            auxiliary contact, 1 = closed
#   reconnect button    GPIO0 (BOOT button)            active low
#   pulse LED           GPIO2 (on-board LED)
#   cover switch        GPIO36 (VP)                    1 = open
#   power-fail in       GPIO39 (VN)                    DC rail comparator, active low
#   storage             data partition labelled "meter" (esp32.Partition), else /meter.dat
from machine import Pin, SPI, UART

import mcu

CALIBRATION = {
    "ugain": [0x9A5B, 0x9A5B, 0x9A5B], "igain": [0x7530, 0x7530, 0x7530],
    "meter_constant": 10000, "counts_per_wh": 1000, "line_freq": 50,
}

CONFIG = {
    "identity": {"manufacturer": "OMT", "model": "OMT-ESP32", "equipment_id": "", "serial": "",
                 "optical_address": ""},
    "afe": "atm90e32",
    "calibration": CALIBRATION,
    "rtc_backup": False,  # the RTC runs from the main supply only
}


class Board:
    name = "esp32"

    def __init__(self, config):
        self.config = config
        self.clock = mcu.McuClock(config.get("rtc_backup", False))
        self._uarts = {}
        self._pins = {
            "p1_req": mcu.InvertedPin(Pin(34, Pin.IN)),
            "relay_a": Pin(21, Pin.OUT, value=0),
            "relay_b": Pin(22, Pin.OUT, value=0),
            "relay_fb": Pin(35, Pin.IN),
            "button": mcu.InvertedPin(Pin(0, Pin.IN, Pin.PULL_UP)),
            "led_pulse": Pin(2, Pin.OUT, value=0),
            "cover": Pin(36, Pin.IN),
            "pfail": mcu.InvertedPin(Pin(39, Pin.IN)),
        }
        self._spi = {}
        try:
            import esp32
            parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="meter")
            self.storage = mcu.BlockStorage(parts[0])
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
                u = UART(1, 300, bits=7, parity=0, stop=1, tx=32, rx=33, rxbuf=512)
            elif role == "p1":
                u = UART(2, 115200, bits=8, parity=None, stop=1, tx=17, rx=16, invert=UART.INV_TX,
                         txbuf=1024)
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
                s = mcu.SpiDev(SPI(1, 200000, polarity=1, phase=1, sck=Pin(14), mosi=Pin(13), miso=Pin(26)),
                               Pin(25, Pin.OUT, value=1))
            elif name == "radio":
                s = mcu.SpiDev(SPI(2, 4000000, sck=Pin(18), mosi=Pin(23), miso=Pin(19)),
                               Pin(5, Pin.OUT, value=1))
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
