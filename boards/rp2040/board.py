# Board: Raspberry Pi Pico (RP2040) meter module. Pin map and wiring only; the HAL code is in
# boards/mcu.py (deployed as /mcu.py) and the logic in firmware/.
#
#   function            pin(s)                         notes
#   optical port UART0  GP0 TX (IR LED), GP1 RX (IR)   300 baud 7E1 at start (IEC 62056-21)
#   P1 UART1 TX         GP4 TX                         115200 8N1, TX inverted in the UART (open-
#                                                      collector P1 output stage, DSMR 5.0.2 5.7.2)
#   P1 request in       GP6                            via optocoupler, active low -> inverted here
#   AFE ATM90E32 SPI1   GP10 SCK, GP11 MOSI, GP12 MISO, GP13 CS
#   CC1101 SPI0         GP18 SCK, GP19 MOSI, GP16 MISO, GP17 CSn, GP20 GDO0, GP21 GDO2
#   relay coils         GP2 (relay_a: close), GP3 (relay_b: open)  latching relay via H-bridge
#   display + keypad    I2C0 GP8 SDA, GP9 SCL          SSD1306 128x64 (0x3C), 3x4 keypad on a PCF8574 (0x20)
#   relay feedback      GP7                            auxiliary contact, 1 = closed
#   reconnect button    GP15                           pull-up, active low -> inverted
#   pulse LED           GP22                           metrological LED (imp/kWh)
#   cover switch        GP26                           1 = open
#   power-fail in       GP27                           DC rail comparator, active low -> inverted
#   storage             raw flash region: the last 256 KB (rp2.Flash(start, len)), else /meter.dat
import mcu

UP, DOWN = 1, 2  # machine.Pin.PULL_UP / PULL_DOWN on rp2

PINS = {
    "p1_req": (6, "in", UP, True),
    "relay_a": (2, "out", None, False),
    "relay_b": (3, "out", None, False),
    "relay_fb": (7, "in", UP, False),
    "button": (15, "in", UP, True),
    "led_pulse": (22, "out", None, False),
    "cover": (26, "in", DOWN, False),
    "pfail": (27, "in", UP, True),
    "radio_gdo0": (20, "in", None, False),
    "radio_gdo2": (21, "in", None, False),
}
UARTS = {
    "optical": (0, 300, {"bits": 7, "parity": 0, "stop": 1, "tx": 0, "rx": 1, "rxbuf": 512}),
    "p1": (1, 115200, {"bits": 8, "parity": None, "stop": 1, "tx": 4, "invert_tx": True, "txbuf": 1024}),
}
SPIS = {
    "afe": (1, 200000, {"polarity": 1, "phase": 1, "sck": 10, "mosi": 11, "miso": 12}, 13),
    "radio": (0, 4000000, {"sck": 18, "mosi": 19, "miso": 16}, 17),
}

I2C = (0, 400000, {"sda": 8, "scl": 9})  # customer interface: SSD1306 display + PCF8574 keypad
UI = {"display": 0x3C, "keypad": 0x20}

CALIBRATION = {
    # ATM90E32 reset-value gains for a 230 V / 60 A board; replace with the values from the
    # calibration procedure (firmware/meter/drivers/afe/CALIBRATION.md). counts_per_wh = meter_constant / 10.
    "chip": "atm90e32", "phases": 3, "meter_constant": 10000, "counts_per_wh": 1000, "line_freq": 50,
    "ugain": (0x8000, 0x8000, 0x8000), "igain": (0x8000, 0x8000, 0x8000),
}

CONFIG = {
    "identity": {"manufacturer": "OMT", "model": "OMT-RP2040", "equipment_id": "", "serial": "",
                 "optical_address": ""},
    "afe": "atm90e32",
    "calibration": CALIBRATION,
    "rtc_backup": False,  # the Pico has no battery-backed RTC
}


RAW_BYTES = 256 * 1024  # the raw tail of the flash storage region; _boot.py leaves it out of littlefs


def _storage():
    # rp2.Flash offsets are relative to the storage region and must be >= 0 (rp2_flash.c): the
    # tail starts at the region's size (ioctl 4 = block count, 4 KB blocks) minus RAW_BYTES.
    import rp2
    size = rp2.Flash().ioctl(4, 0) * 4096
    return mcu.BlockStorage(rp2.Flash(start=size - RAW_BYTES, len=RAW_BYTES))


def make(config=None):
    return mcu.McuBoard("rp2040", mcu.load_config(config or CONFIG), PINS, UARTS, SPIS, _storage, I2C, UI)
