# The customer interface: the display (what the customer sees), the keypad and the button (what the
# customer presses). A thin task between the board's devices and the services.
#
#   ui = CustomerPort(display, keypad, button_pin, ticks, credit, supply, tokens=None, config=None)
#   ui.poll()            every ~20 ms (the app's task)
#   ui.message(text)     show a message on the last display line (token results, ...)
#
# Display (8 lines of 16 characters) while nobody types: a header, then pages cycling every
# `page_s` seconds: available credit / emergency credit / debt / the supply state and the last
# message; a low-credit warning and an out-of-credit state stay on every page.
# Keypad: digits are collected and shown grouped in fours as typed ('*' deletes the last digit,
# '#' enters); `entry_timeout_s` without a key clears a half-typed entry. Entered:
#   20 digits              an STS token, handed to `tokens.enter(digits)` (the STS issue), whose
#                          result text is shown
#   the emergency code     (config "ec_code", default "0") invokes the emergency credit
#   anything else          "FORMAT?" and nothing happens
# Button (pin "button", 1 = pressed, debounced over two polls): invokes the offered emergency
# credit and confirms a reconnection the credit (and the limiter) allow.
# Timing runs on `ticks` (real time: board.line_clock on the sim, the board clock on MCUs).
try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

from meter.cores.supply import disconnect as dc

MAX_ENTRY = const(20)
_STATE_TEXT = ("SUPPLY OFF", "SUPPLY ON", "PRESS BUTTON")


class CustomerPort:
    def __init__(self, display, keypad, button, ticks, clock, credit=None, supply=None, tokens=None,
                 config=None):
        cfg = config or {}
        self.display = display
        self.keypad = keypad
        self.button = button
        self.ticks = ticks
        self.clock = clock
        self.credit = credit
        self.supply = supply
        self.tokens = tokens
        self.page_ms = cfg.get("page_s", 4) * 1000
        self.entry_ms = cfg.get("entry_timeout_s", 60) * 1000
        self.ec_code = cfg.get("ec_code", "0")
        self.entry = bytearray(MAX_ENTRY)
        self.n = 0
        self._last_key = 0
        self._page = 0
        self._page_t = ticks.ticks_ms()
        self._btn = 0  # debounce: consecutive pressed polls
        self._shown = None
        self._drawn = self._page_t
        self.msg = ""
        # the legally relevant software's identification (WELMEC 7.2), two lines; set by the app
        # when the firmware update service is configured (meter/common/legal.py)
        self.ident = ("", "")
        self.presses = 0
        self.faults = 0
        self.last_fault = None

    def message(self, text):
        self.msg = text
        self._shown = None  # redraw at the next poll

    # -- input ---------------------------------------------------------------------------------------
    def poll(self):
        try:
            self._poll()
        except Exception as e:  # noqa: BLE001 - counted and logged: the UI must not stop the ports
            self.faults += 1
            self.last_fault = repr(e)

    def _poll(self):
        now = self.ticks.ticks_ms()
        kp = self.keypad
        if kp is not None:
            k = kp.read()
            if k is not None:
                self._key(k, now)
            elif self.n and self.ticks.ticks_diff(now, self._last_key) > self.entry_ms:
                self.n = 0  # a half-typed entry times out
                self._shown = None
        b = self.button
        if b is not None:
            if b.value():
                self._btn += 1
                if self._btn == 2:
                    self._press()
            else:
                self._btn = 0
        if self.ticks.ticks_diff(now, self._page_t) >= self.page_ms:
            self._page_t = now
            self._page += 1
            self._shown = None
        if self._shown is None or self.ticks.ticks_diff(now, self._drawn) >= 1000:
            self._draw()  # at least once a second: credit and supply state follow the meter
            self._drawn = now

    def _key(self, k, now):
        self._last_key = now
        self._shown = None
        if k == "*":
            if self.n:
                self.n -= 1
            return
        if k == "#":
            self._enter()
            self.n = 0
            return
        if self.n < MAX_ENTRY:
            self.entry[self.n] = ord(k)
            self.n += 1

    def _enter(self):
        text = bytes(self.entry[:self.n]).decode()
        if self.n == MAX_ENTRY and self.tokens is not None:
            self.message(self.tokens.enter(text))
        elif self.n == MAX_ENTRY:
            self.message("NO TOKEN ENTRY")
        elif text == self.ec_code and self.credit is not None:
            r = self.credit.emergency(self.clock.now())
            self.message(r or "NOT AVAILABLE")
        else:
            self.message("FORMAT?")

    def _press(self):
        self.presses += 1
        r = None
        if self.credit is not None:
            r = self.credit.button(self.clock.now())
        elif self.supply is not None and self.supply.dc.control_state == dc.READY:
            r = self.supply.manual_reconnect()
            r = "RECONNECTED" if r is None else r.upper()
        if r:
            self.message(r[:16])

    # -- output --------------------------------------------------------------------------------------
    def _entry_text(self):
        e = self.entry
        out = []
        for i in range(self.n):
            if i and i % 4 == 0:
                out.append(" ")
            out.append(chr(e[i]))
        return "".join(out)

    def lines(self):
        """The display's lines now (also what the rig reads back)."""
        if self.n:
            return ("ENTER TOKEN:", self._entry_text()[:16], self._entry_text()[16:], "",
                    "* DEL   # ENTER", "", "", self.msg)
        cr = self.credit
        sup = self.supply
        state = _STATE_TEXT[sup.dc.control_state] if sup is not None else ""
        idl = self.ident
        if cr is None:
            return ("METER", state, "", "", "", idl[0], idl[1], self.msg)
        acc = cr.acc
        page = self._page % 3
        if page == 0:
            body = ("CREDIT", cr.amount_text(acc.available()))
        elif page == 1:
            ec = acc.ec_in_use()
            body = ("EMERGENCY", cr.amount_text(ec) if ec else
                    ("OFFERED: PRESS" if acc.ec_offered() else "-"))
        else:
            body = ("DEBT", cr.amount_text(acc.debt))
        warn = "LOW CREDIT" if acc.low_warning() else ""
        # imported here: the account module is loaded only on a meter with a credit (small heaps)
        from meter.cores.prepay.account import PREPAYMENT
        if acc.available() <= 0 and acc.payment_mode == PREPAYMENT:
            warn = "NO CREDIT"
        return (body[0], body[1], "", warn, state, idl[0], idl[1], self.msg)

    def _draw(self):
        lines = self.lines()
        self._shown = lines
        if self.display is not None:
            self.display.show(lines)
