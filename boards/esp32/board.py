# Board: ESP32-DevKitC (ESP32-WROOM-32) meter module. Pin map and wiring only; the HAL code is in
# boards/mcu.py (deployed as /mcu.py) and the logic in firmware/.
#
#   function            pin(s)                         notes
#   optical port UART1  GPIO32 TX (IR LED), GPIO33 RX  300 baud 7E1 at start (IEC 62056-21)
#   P1 UART2 TX         GPIO17 TX                      115200 8N1, TX inverted in the UART
#   P1 request in       GPIO34 (input only)            via optocoupler, active low -> inverted
#   AFE ATM90E32 HSPI   GPIO14 SCK, GPIO13 MOSI, GPIO26 MISO, GPIO25 CS (avoids strapping GPIO12/15)
#   CC1101 VSPI         GPIO18 SCK, GPIO23 MOSI, GPIO19 MISO, GPIO5 CSn, GPIO4 GDO0, GPIO16 GDO2
#   relay coils         GPIO21 (relay_a: close), GPIO22 (relay_b: open)  latching relay via H-bridge
#   display + keypad    I2C0 GPIO27 SDA, GPIO15 SCL    SSD1306 128x64 (0x3C), 3x4 keypad on a PCF8574 (0x20);
#                                                      GPIO15 is a strapping pin: the I2C pull-up keeps it high at boot
#   relay feedback      GPIO35 (input only)            auxiliary contact, 1 = closed
#   reconnect button    GPIO0 (BOOT button)            active low -> inverted
#   pulse LED           GPIO2 (on-board LED)
#   cover switch        GPIO36 (VP)                    1 = open
#   power-fail in       GPIO39 (VN)                    DC rail comparator, active low -> inverted
#   storage             data partition labelled "meter" (esp32.Partition), else /meter.dat
import mcu

UP = 1  # machine.Pin.PULL_UP on esp32 (GPIO34-39 are input-only without pulls)

PINS = {
    "p1_req": (34, "in", None, True),
    "relay_a": (21, "out", None, False),
    "relay_b": (22, "out", None, False),
    "relay_fb": (35, "in", None, False),
    "button": (0, "in", UP, True),
    "led_pulse": (2, "out", None, False),
    "cover": (36, "in", None, False),
    "pfail": (39, "in", None, True),
    "radio_gdo0": (4, "in", None, False),
    "radio_gdo2": (16, "in", None, False),
}
UARTS = {
    "optical": (1, 300, {"bits": 7, "parity": 0, "stop": 1, "tx": 32, "rx": 33, "rxbuf": 512}),
    "p1": (2, 115200, {"bits": 8, "parity": None, "stop": 1, "tx": 17, "invert_tx": True, "txbuf": 1024}),
}
SPIS = {
    "afe": (1, 200000, {"polarity": 1, "phase": 1, "sck": 14, "mosi": 13, "miso": 26}, 25),
    "radio": (2, 4000000, {"sck": 18, "mosi": 23, "miso": 19}, 5),
}

I2C = (0, 400000, {"sda": 27, "scl": 15})  # customer interface: SSD1306 display + PCF8574 keypad
UI = {"display": 0x3C, "keypad": 0x20}

CALIBRATION = {
    "chip": "atm90e32", "phases": 3, "meter_constant": 10000, "counts_per_wh": 1000, "line_freq": 50,
    "ugain": (0x8000, 0x8000, 0x8000), "igain": (0x8000, 0x8000, 0x8000),
}

CONFIG = {
    "identity": {"manufacturer": "OMT", "model": "OMT-ESP32", "equipment_id": "", "serial": "",
                 "optical_address": ""},
    "afe": "atm90e32",
    "calibration": CALIBRATION,
    "rtc_backup": False,  # the RTC runs from the main supply only
}


def _storage():
    import esp32
    return mcu.BlockStorage(esp32.Partition.find(esp32.Partition.TYPE_DATA, label="meter")[0])


def make(config=None):
    return mcu.McuBoard("esp32", mcu.load_config(config or CONFIG), PINS, UARTS, SPIS, _storage, I2C, UI)
