"""IEC 62056-21 client (mode C) for an optical head (IR serial device) or the rig's pty.

    from host_tools.iec_client import IecClient
    with IecClient("/dev/ttyUSB0") as c:            # or rig.optical_port
        r = c.readout()                             # sign-on, ACK 0 Z 0, baud switch, data block
        print(r.ident, r.values["1-0:1.8.1"])
    with IecClient(port) as c:
        c.program(password="12345678")              # ACK 0 Z 1, P0 seed, P1 password
        # c.program(key=b"...", level=2)            # P2: HMAC-SHA256(key, seed)[:8] as hex
        print(c.read("0.9.1"))                      # R1 -> (value, unit)
        c.write("0.9.1", "12:00:00")                # W1 -> ACK or IecError("(ERROR:...)")
        c.bye()                                     # B0

Line settings: 300 baud 7E1 for the sign-on, the baud the meter offers (or `max_baud`) after the
option select. The client switches `switch_wait` (0.2 s) after its ACK has left the UART; the
meter (ours: 1 s) waits at least the standard's 200 ms before its first byte at the new baud.
`echo=True` for heads that return what they transmit: the client then reads its own bytes back
and discards them.

Requires pyserial (`serial_for_url` URLs such as ``socket://`` work too, without baud switching).
"""
import hashlib
import hmac
import re
import time

import serial

SOH, STX, ETX, EOT, ACK, NAK = 1, 2, 3, 4, 6, 0x15
BAUDS = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
_DATASET = re.compile(r"([^()]*)\(([^()]*)\)")


class IecError(Exception):
    """Protocol failure or an (ERROR:...) answer; `.reason` holds the meter's reason if any."""

    def __init__(self, msg, reason=None):
        Exception.__init__(self, msg)
        self.reason = reason


def write_retrying(client, obj, value, retries):
    """client.write(obj, value), repeated up to `retries` times on a line failure (no meter reason:
    a garbled or lost frame); an answer with the meter's reason is final and raised at once."""
    for i in range(retries):
        try:
            return client.write(obj, value)
        except IecError as e:
            if e.reason is not None or i == retries - 1:
                raise


def bcc(data):
    """XOR of the bytes, 7 bits (pass the bytes after SOH/STX up to and including ETX)."""
    x = 0
    for b in data:
        x ^= b
    return x & 0x7F


def command_frame(cmd, data=None):
    """SOH cmd [STX data] ETX BCC."""
    body = cmd.encode("ascii")
    if data is not None:
        body += b"\x02" + data.encode("ascii")
    body += b"\x03"
    return b"\x01" + body + bytes([bcc(body)])


def p2_response(key, seed):
    """The P2 value for our meters: hex of the first 8 bytes of HMAC-SHA256(key, seed ASCII)."""
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, seed.encode("ascii"), hashlib.sha256).hexdigest()[:16].upper()


def parse_datasets(text):
    """[(address, value, unit)] of a data line or block; unit None when absent."""
    out = []
    for addr, val in _DATASET.findall(text):
        unit = None
        if "*" in val:
            val, unit = val.split("*", 1)
        out.append((addr.strip(), val, unit))
    return out


class Identification:
    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("ascii", "replace").strip()
        if len(text) < 5 or text[0] != "/":
            raise IecError("bad identification %r" % raw)
        self.manufacturer = text[1:4]
        self.baud_char = text[4]
        rest = text[5:]
        self.enhanced = None
        if rest.startswith("\\") and len(rest) >= 2:
            self.enhanced = rest[1]
            rest = rest[2:]
        self.ident = rest

    def __repr__(self):
        return "Identification(%r, %r, %r)" % (self.manufacturer, self.baud_char, self.ident)


class Readout:
    def __init__(self, ident, block):
        self.ident = ident
        self.raw = block
        text = block[1:-2].decode("ascii", "replace")  # without STX, ETX, BCC
        self.lines = [ln for ln in text.split("\r\n") if ln and ln != "!"]
        self.datasets = []
        for ln in self.lines:
            self.datasets.extend(parse_datasets(ln))
        self.values = dict((a, (v, u)) for a, v, u in self.datasets if a)


class IecClient:
    def __init__(self, port, address="", timeout=3.0, max_baud=None, echo=False, switch_wait=0.2,
                 char_timeout=1.5, log=None):
        self.port_name = port
        self.address = address
        self.timeout = timeout
        self.max_baud = max_baud  # a baud character ('0'..'6') to cap the meter's offer
        self.echo = echo
        self.switch_wait = switch_wait
        self.char_timeout = char_timeout
        self.log = log
        self.ser = None
        self.identification = None
        self.seed = None
        self._in_prog = False

    # ------------------------------------------------------------------ port
    def open(self):
        kw = dict(baudrate=300, stopbits=serial.STOPBITS_ONE, timeout=0.05, rtscts=False,
                  dsrdtr=False, xonxoff=False)
        try:
            self.ser = serial.serial_for_url(self.port_name, bytesize=serial.SEVENBITS,
                                             parity=serial.PARITY_EVEN, **kw)
        except serial.SerialException:
            raise
        except Exception:
            # Linux ptys keep their own 8-bit format and refuse (termios.error EINVAL) a request
            # for 7E1 that changes nothing else, e.g. when the pty already runs at 300 baud. The
            # format does not matter on a pty, so open it 8N1.
            self.ser = serial.serial_for_url(self.port_name, bytesize=serial.EIGHTBITS,
                                             parity=serial.PARITY_NONE, **kw)
        return self

    def close(self):
        """Close the port; a programming session still open is ended with B0 first."""
        if self.ser is not None:
            if self._in_prog:
                try:
                    self.bye()
                except (OSError, serial.SerialException):
                    pass
            self.ser.close()
            self.ser = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _baud(self, baud):
        # Only on a change: Linux ptys refuse (EINVAL) a tcsetattr that keeps the speed but asks
        # for 7E1 (they normalise the character format), and a real port gains nothing from it.
        if getattr(self.ser, "baudrate", baud) == baud:
            return
        try:
            self.ser.baudrate = baud
        except (ValueError, serial.SerialException, AttributeError):
            pass  # socket:// and friends: no line settings

    def _write(self, data):
        if self.log:
            self.log("> %r" % data)
        self.ser.write(data)
        self.ser.flush()
        if self.echo:
            got = self._read_exact(len(data), self.char_timeout + 0.5)
            if got != data and self.log:
                self.log("echo mismatch %r" % got)

    def _read_exact(self, n, timeout):
        out = b""
        end = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < end:
            out += self.ser.read(n - len(out))
        return out

    def _read_byte(self, deadline):
        while time.monotonic() < deadline:
            b = self.ser.read(1)
            if b:
                return b[0]
        return None

    def _read_line(self, start, timeout):
        """Skip to `start`, then read up to LF."""
        deadline = time.monotonic() + timeout
        while True:
            c = self._read_byte(deadline)
            if c is None:
                raise IecError("timeout waiting for the meter")
            if c == start:
                break
        buf = bytearray([start])
        while True:
            c = self._read_byte(time.monotonic() + self.char_timeout)
            if c is None:
                raise IecError("inter-character timeout in %r" % bytes(buf))
            buf.append(c)
            if c == 0x0A:
                break
            if len(buf) > 256:
                raise IecError("line too long")
        if self.log:
            self.log("< %r" % bytes(buf))
        return bytes(buf)

    def _read_answer(self, timeout=None):
        """ACK, NAK, or a STX/SOH .. ETX BCC block. Returns (kind, bytes)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            c = self._read_byte(deadline)
            if c is None:
                raise IecError("timeout waiting for the meter")
            if c in (ACK, NAK):
                if self.log:
                    self.log("< %r" % bytes([c]))
                return c, bytes([c])
            if c in (STX, SOH):
                break
        buf = bytearray([c])
        while True:
            c = self._read_byte(time.monotonic() + self.char_timeout)
            if c is None:
                raise IecError("inter-character timeout after %d bytes" % len(buf))
            buf.append(c)
            if c in (ETX, EOT):
                b = self._read_byte(time.monotonic() + self.char_timeout)
                if b is None:
                    raise IecError("no BCC")
                buf.append(b)
                break
            if len(buf) > 65536:
                raise IecError("block too long")
        if self.log:
            self.log("< %r" % bytes(buf))
        return buf[0], bytes(buf)

    def _block(self, timeout=None, retries=3):
        """Read a block, NAK and re-read on a bad BCC."""
        for i in range(retries + 1):
            kind, data = self._read_answer(timeout)
            if kind in (ACK, NAK):
                return kind, data
            if bcc(data[1:-1]) == data[-1]:
                if data[-2] == EOT:
                    raise IecError("partial blocks are not supported")
                return kind, data
            if i < retries:
                self._write(bytes([NAK]))
        raise IecError("bad BCC after %d retries" % retries)

    # ------------------------------------------------------------------ protocol
    def sign_on(self):
        self._baud(300)
        self.ser.reset_input_buffer()
        self._write(("/?%s!\r\n" % self.address).encode("ascii"))
        self.identification = Identification(self._read_line(0x2F, self.timeout))
        return self.identification

    def _option(self, mode):
        z = self.identification.baud_char
        if z not in BAUDS:
            z = "0"
        if self.max_baud is not None and z > self.max_baud:
            z = self.max_baud
        self._write(b"\x060" + z.encode() + mode + b"\r\n")
        if BAUDS[z] != 300:
            time.sleep(self.switch_wait)
            self._baud(BAUDS[z])
        return z

    def readout(self):
        """Mode C data readout (sign-on, option select '0', baud switch). Returns a Readout."""
        ident = self.sign_on()
        self._option(b"0")
        kind, block = self._block(timeout=self.timeout + 2)
        if kind != STX:
            raise IecError("unexpected answer %r" % block)
        self._baud(300)
        return Readout(ident, block)

    def program(self, password=None, key=None, level=1):
        """Programming mode: option select '1', read the P0 seed, log in with P1 (password) or
        P2 (key, level 2). Returns the seed."""
        self.sign_on()
        self._option(b"1")
        kind, block = self._block(timeout=self.timeout + 2)
        m = re.match(rb"\x01P0\x02\((.*)\)\x03", block[:-1])
        if kind != SOH or not m:
            raise IecError("no P0 operand: %r" % block)
        self.seed = m.group(1).decode("ascii")
        self._in_prog = True
        if password is not None or key is not None:
            self.login(password=password, key=key, level=level)
        return self.seed

    def login(self, password=None, key=None, level=1):
        """P1 (level 1, password) or P2 (level 2, HMAC of the seed with `key`) in programming
        mode. Raises IecError (reason 'PASSWORD', 'LOCKED', ...) when refused."""
        if level == 2:
            if key is None:
                raise IecError("level 2 needs the key")
            self._expect_ack(command_frame("P2", "(%s)" % p2_response(key, self.seed)), "password")
        else:
            if password is None or any(ch in password for ch in "()"):
                raise IecError("bad password text")
            self._expect_ack(command_frame("P1", "(%s)" % password), "password")

    def _expect_ack(self, frame, what):
        for i in range(3):
            self._write(frame)
            kind, data = self._block()
            if kind == ACK:
                return
            if kind == NAK:
                continue
            raise self._error(data, what)
        raise IecError("%s: NAK three times" % what)

    def _error(self, data, what):
        text = data[1:-2].decode("ascii", "replace")
        m = re.match(r"\(ERROR:?(.*)\)$", text)
        if m:
            return IecError("%s refused: %s" % (what, m.group(1)), m.group(1))
        return IecError("%s: unexpected answer %r" % (what, data))

    def read(self, obis):
        """R1 -> (value, unit) (unit None when there is none)."""
        for i in range(3):
            self._write(command_frame("R1", "%s()" % obis))
            kind, data = self._block()
            if kind == NAK:
                continue
            if kind != STX:
                raise IecError("read %s: unexpected answer %r" % (obis, data))
            sets = parse_datasets(data[1:-2].decode("ascii", "replace"))
            if len(sets) == 1 and sets[0][1].startswith("ERROR"):
                raise self._error(data, "read " + obis)
            if len(sets) != 1:
                raise IecError("read %s: unexpected answer %r" % (obis, data))
            return sets[0][1], sets[0][2]
        raise IecError("read %s: NAK three times" % obis)

    def write(self, obis, value):
        """W1; raises IecError with the meter's reason when refused."""
        if any(ch in "()!/" or ord(ch) < 0x20 or ord(ch) > 0x7E for ch in value):
            raise IecError("value must be printable ASCII without ( ) ! /")
        self._expect_ack(command_frame("W1", "%s(%s)" % (obis, value)), "write " + obis)

    def bye(self):
        """B0: end the session (the meter goes back to 300 baud)."""
        self._in_prog = False
        if self.ser is not None:
            self._write(command_frame("B0"))
            time.sleep(0.1)
            self._baud(300)
