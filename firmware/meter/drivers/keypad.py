# 3x4 matrix keypad behind a PCF8574 I2C port expander (address 0x20..0x27): the keypad costs no
# GPIO, it shares the display's I2C bus. Wiring: P0..P3 = rows 1..4 (driven low one at a time),
# P4..P6 = columns 1..3 (read; the PCF8574's quasi-bidirectional pins are inputs while written 1,
# NXP PCF8574 datasheet 8.1). Layout:
#       1 2 3
#       4 5 6
#       7 8 9
#       * 0 #
#
#   k = Pcf8574Keypad(i2c, addr=0x20)
#   k.read()     call every ~20 ms: the key ('0'..'9', '*', '#') once per press, else None.
#                A key counts after two equal scans (debounce, 20-40 ms) and only once until all
#                keys are released (no auto-repeat; two keys at once read as none).
# The board HAL's `keypad` has this read() interface. Allocation-free.
KEYS = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), ("*", "0", "#"))
_NONE = -1
_MULTI = -2


class Pcf8574Keypad:
    def __init__(self, i2c, addr=0x20):
        self.i2c = i2c
        self.addr = addr
        self._w = bytearray(1)
        self._r = bytearray(1)
        self._last = _NONE  # last scan
        self._held = False  # a key was reported and is still down
        self.errors = 0  # I2C errors (no expander answering)

    def _scan(self):
        """Key index row * 3 + column seen now, _NONE or _MULTI."""
        found = _NONE
        for row in range(4):
            self._w[0] = 0xFF & ~(1 << row)
            self.i2c.writeto(self.addr, self._w)
            self.i2c.readfrom_into(self.addr, self._r)
            cols = (~self._r[0] >> 4) & 7
            if not cols:
                continue
            if found != _NONE or cols & (cols - 1):
                return _MULTI
            found = row * 3 + (0 if cols == 1 else 1 if cols == 2 else 2)
        return found

    def read(self):
        try:
            k = self._scan()
        except OSError:
            self.errors += 1
            return None
        prev = self._last
        self._last = k
        if k < 0:
            if k == _NONE:
                self._held = False
            return None
        if k != prev or self._held:
            return None
        self._held = True
        return KEYS[k // 3][k % 3]
