# The customer interface of the unix_sim board: the display reports its text to the rig, the keypad
# types what the rig sends. Same interfaces as the MCU parts (meter/drivers/display.py TextDisplay.show,
# meter/drivers/keypad.py Pcf8574Keypad.read).
_KEYS = {c: c for c in "0123456789*#"}


class SimDisplay:
    """show(lines): the rig sees every change as `disp <hex of the lines joined by LF>`."""

    LINES = 8
    COLS = 16

    def __init__(self, link):
        self.link = link
        self.lines = [""] * self.LINES
        self.updates = 0

    def show(self, lines):
        new = [(lines[i] if i < len(lines) else "")[:self.COLS] for i in range(self.LINES)]
        if new == self.lines:
            return
        self.lines = new
        self.updates += 1
        self.link.send_bytes("disp ", "\n".join(new).encode())


class SimKeypad:
    """read(): the next key the rig typed (`keys <seq> <hex>`), one per call, else None."""

    def __init__(self, size=64):
        self._q = bytearray(size)
        self._head = 0
        self._n = 0
        self.dropped = 0

    def type(self, text):
        for ch in text:
            if ch not in _KEYS:
                raise ValueError("keypad: no key %r (0-9, *, #)" % ch)
        for ch in text:
            if self._n == len(self._q):
                self.dropped += 1
                continue
            self._q[(self._head + self._n) % len(self._q)] = ord(ch)
            self._n += 1

    def read(self):
        if not self._n:
            return None
        c = self._q[self._head]
        self._head = (self._head + 1) % len(self._q)
        self._n -= 1
        return _KEYS[chr(c)]
