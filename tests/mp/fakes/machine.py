# A fake `machine` module for testing the MCU board adapters inside the Unix interpreter: records
# how the board configured its peripherals, so tests can check pin maps and wiring.
created = []


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id, self.mode, self.pull = id, mode, pull
        self._v = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self._v = value
        self.handler = None
        created.append(("Pin", id, mode))

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def irq(self, handler=None, trigger=None):
        self.handler = handler


class UART:
    INV_TX = 1
    INV_RX = 2

    def __init__(self, id, baudrate=9600, **kw):
        self.id, self.baudrate, self.kw = id, baudrate, kw
        self.out = bytearray()
        created.append(("UART", id, baudrate, kw.get("tx"), kw.get("rx")))

    def init(self, baudrate=9600, **kw):
        self.baudrate = baudrate
        self.kw.update(kw)

    def write(self, b):
        self.out += b
        return len(b)

    def any(self):
        return 0

    def readinto(self, buf, n=-1):
        return None

    def read(self, n=-1):
        return None


class SPI:
    def __init__(self, id, baudrate=1000000, **kw):
        self.id, self.baudrate, self.kw = id, baudrate, kw
        created.append(("SPI", id, kw.get("sck"), kw.get("mosi"), kw.get("miso")))

    def write(self, b):
        pass

    def readinto(self, b, w=0):
        for i in range(len(b)):
            b[i] = 0

    def write_readinto(self, tx, rx):
        for i in range(len(rx)):
            rx[i] = 0


class RTC:
    _dt = (2026, 11, 21, 5, 12, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is None:
            return RTC._dt
        RTC._dt = dt


class I2C:
    """An I2C bus with the meter's customer-interface parts answering: an SSD1306 (0x3C) and a
    PCF8574 keypad expander (0x20) whose input port reads all ones (no key)."""
    devices = [0x3C, 0x20]

    def __init__(self, id, freq=400000, sda=None, scl=None):
        self.id, self.freq = id, freq
        self.writes = []
        created.append(("I2C", id, getattr(sda, "id", sda), getattr(scl, "id", scl)))

    def scan(self):
        return list(I2C.devices)

    def writeto(self, addr, buf, stop=True):
        self.writes.append((addr, bytes(buf)))
        return 1

    def writevto(self, addr, vector, stop=True):
        self.writes.append((addr, b"".join(bytes(v) for v in vector)))
        return 1

    def readfrom_into(self, addr, buf, stop=True):
        for i in range(len(buf)):
            buf[i] = 0xFF
