# The MCU board adapters construct their HAL against a fake `machine` (tests/mp/fakes) and satisfy
# the contract of boards/README.md: roles, pins, clock. No pin is used twice.
import sys

# boards/ after the fakes: its esp32/ folder would otherwise import as the `esp32` module
sys.path.insert(0, "boards")
sys.path.insert(0, "tests/mp/fakes")

from mptest import eq, raises

PINS = ("p1_req", "relay_a", "relay_b", "relay_fb", "button", "led_pulse", "cover", "pfail")


def _load(name):
    for m in ("board", "mcu"):
        if m in sys.modules:
            del sys.modules[m]
    sys.path.insert(0, "boards/" + name)
    try:
        import machine
        machine.created.clear()
        machine.RTC._dt = (2026, 11, 21, 5, 12, 0, 0, 0)
        import board
        try:
            b = board.make()
        except ImportError as e:  # the AFE driver module is not there yet
            raise
        return b, list(machine.created)
    finally:
        sys.path.pop(0)


def _check(name):
    b, created = _load(name)
    eq(b.name, name)
    for p in PINS:
        b.pin(p).value()
    b.uart("optical")
    b.uart("p1")
    b.spi("radio")
    # the configured AFE driver was built on its bus, with the board's calibration
    eq(type(b.afe).__name__, "ATM90E32")
    for key in ("counts_per_wh", "meter_constant"):
        assert key in b.config["calibration"]
    eq(b.config["calibration"]["counts_per_wh"] * 10, b.config["calibration"]["meter_constant"])
    raises(ValueError, b.uart, "nonsense")
    # the journal on the raw flash region, not the filesystem fallback (a wrong partition call
    # would silently land there): 256 KB of 4 KB blocks
    eq(type(b.storage).__name__, "BlockStorage")
    eq(b.storage.size, 256 * 1024)
    if name == "rp2040":
        eq(b.storage.dev.start, (1408 - 256) * 1024)  # the tail _boot.py leaves out of littlefs
    # no GPIO claimed twice
    ids = []
    import machine
    for c in machine.created:
        if c[0] == "Pin":
            ids.append(c[1])
        elif c[0] == "UART":
            ids += [x for x in (c[3], c[4]) if isinstance(x, int)]
    seen = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    dup = [i for i in seen if seen[i] > 1]
    assert not dup, "pins used twice on %s: %r" % (name, dup)
    # clock from the RTC, meter seconds
    from meter.common import timeutil
    eq(b.clock.time(), timeutil.to_secs(2026, 11, 21, 12, 0, 0))
    b.clock.set_time(timeutil.to_secs(2027, 1, 2, 3, 4, 5))
    eq(b.clock.time(), timeutil.to_secs(2027, 1, 2, 3, 4, 5))
    # P1 TX inverted in hardware
    u = b.uart("p1")
    eq(u.kw.get("invert"), machine.UART.INV_TX)
    # the customer interface on its I2C bus: display and keypad found at their addresses
    eq(type(b.display).__name__, "TextDisplay")
    eq(type(b.keypad).__name__, "Pcf8574Keypad")
    eq(b.keypad.read(), None)  # no key down
    assert [c for c in created if c[0] == "I2C"], "no I2C bus for the display"
    # a board without the parts answering still builds (the meter meters without a UI)
    machine.I2C.devices = []
    try:
        b2, _ = _load(name)
        eq((b2.display, b2.keypad), (None, None))
    finally:
        machine.I2C.devices = [0x3C, 0x20]


def test_rp2040_board():
    _check("rp2040")


def test_esp32_board():
    _check("esp32")
