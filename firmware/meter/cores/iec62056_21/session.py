# IEC 62056-21 (ex IEC 1107) optical port, meter side: a sans-I/O protocol session.
#
# The Session never touches a UART, a clock, storage or a service. The caller feeds it received bytes
# with the monotonic time in ms (`feed(buf, now_ms, n)`) and calls `poll(now_ms)` every 10-20 ms;
# both return a list of actions to execute at once, in order (codes in framing.py):
#   (SEND, bytes-like)   write these bytes to the UART (valid until the next feed/poll call)
#   (BAUD, baudrate)     re-initialise the UART at this baud, 7E1 (7 data bits, even parity, 1 stop)
#   (EVENT, code, a, b)  log an event (the port stamps it with the meter time)
#   (LOCKOUT, record)    persist the 8-byte wrong-password record now: it comes before the answer
#   (WRITE, i, value)    apply a W1 to registry object i (registry.write(i, value)), then call
#                        write_done(reason_or_None, now), whose actions are appended to this list
#   (BINARY, baudrate)   mode E (only with mode_e=True): switch the UART to this baud, 8N1, and hand
#                        the byte stream to the HDLC link (DLMS) until it ends; then call
#                        binary_done(now) (-> BAUD 300: back to mode C, 7E1)
# Reads (R1, the readout) call the registry's read functions, which are pure getters.
# The session does all protocol timing itself from the `now_ms` it is given (which may wrap like
# time.ticks_ms: every difference goes through tdiff()). It estimates when the UART will have
# shifted out what it was given (10 bit times per character) and
#   - emits BAUD only once its own transmission is over (plus a guard of 2 characters + 10 ms),
#   - holds the first byte at a new baud for `switch_delay_ms` after the option-select ACK,
#   - paces long transmissions (the readout) so that at most `tx_window` bytes are queued in the
#     UART at any time: uart.write() never blocks the app for long, even at 300 baud.
#
# Protocol (mode C, with mode A/B fallback):
#   IDLE, 300 baud 7E1. Sign-on `/?!` CR LF (general) or `/?<address>!` CR LF. The address is up to
#   32 characters 0-9 A-Z a-z space; leading zeros are not significant ("/?1!" reaches 00000001).
#   Any other address, or a malformed sign-on, gets silence.
#   -> after `reaction_ms` (standard tr >= 200 ms): identification `/XXXZ<ident>` CR LF, XXX = the
#   manufacturer id, Z = the highest baud character offered (mode C: '0'=300 ... '5'=9600,
#   '6'=19200). No `\W` enhanced-capability sequence is sent, unless mode_e=True: then the
#   identification is `/XXXZ\2<ident>` (6.3.2 item 24, enhanced identification character 2 = binary
#   mode HDLC available) and the option select `ACK 2 Z 2` CR LF (V = '2' HDLC protocol procedure,
#   Y = '2' binary mode; Annex E, protocol mode E) makes the session emit (BINARY, baud of Z) once
#   its own transmission is over: no answer is sent, both ends switch to Z 8N1 and the client's
#   first frame is its HDLC SNRM. The session then stays in state BINARY (it ignores input) until
#   the port calls binary_done(now) after the link's DISC or inactivity time-out.
#   NOTE on the peer client iec62056-21 0.0.2: it assumes a `\W` pair after Z and drops the first
#   character of <ident> when parsing; the readout itself is unaffected.
#   Option select `ACK 0 Z Y` CR LF, Y = '0' data readout, '1' programming mode; Z must be one of
#   the offered rates. The meter switches its UART right after the ACK and sends its first byte at the
#   new baud `switch_delay_ms` (default 1000 ms) after the end of the ACK (the standard allows
#   200-1500 ms; the iec62056-21 client reopens its port 0.75 s after its ACK and flushes its input,
#   so anything earlier is lost).
#   No valid option select within `option_timeout_ms` (1500) after the identification, or an invalid
#   / unsupported one (other Y, Z above the offer, V != '0'): data readout at the current baud (the
#   mode A/B behaviour).
#   Readout: STX, data lines `OBIS(value*unit)` CR LF, `!` CR LF, ETX, BCC. BCC = XOR of every byte
#   after STX (or SOH) up to and including ETX, 7 bits. The lines come from the `readout` callable.
#   A NAK within `nak_window_ms` (500) after the readout makes the meter repeat it (twice at most);
#   then it returns to 300 baud and IDLE. Any other byte in that window, or a garbled byte or '/'
#   during the readout, ends the session at once (the client has moved on: its next sign-on at
#   300 baud arrives garbled at the readout baud), and a '?' that follows within a character
#   timeout is taken as that sign-on with its lost '/': back-to-back readouts need no pause.
#
# Programming mode (option Y = '1'):
#   meter -> SOH P0 STX (<seed>) ETX BCC; seed = 16 hex digits from `rand`, new every session.
#   client -> SOH P1 STX (<password>) ETX BCC          level 1 (read, clock)
#          -> SOH P2 STX (<hex8>) ETX BCC               level 2 (configuration / parameters)
#             hex8 = upper-case hex of the first 8 bytes of HMAC-SHA256(level-2 secret, seed ASCII),
#             computed with metercrypto.hmac_sha256 (case-insensitive compare, constant time).
#   meter: ACK (accepted), (ERROR:PASSWORD), (ERROR:LOCKED <s>) while locked out (<s> = seconds
#   left; the password is not checked, not
#   counted), (ERROR:NOPASSWORD) if that level has no secret, (ERROR:UNSUPPORTED) for P2 without
#   HMAC in the crypto core.
#   client -> SOH R1 STX <obis>(<anything>) ETX BCC  -> STX <obis>(<value>) ETX BCC
#          -> SOH W1 STX <obis>(<value>) ETX BCC     -> ACK, or STX (ERROR:<reason>) ETX BCC and the
#             value unchanged. Every accepted write is logged: events.PARAM_WRITE with a/b = old/new
#             value as an int, or as the CRC-32 (signed 32 bit) of the text; a short text line also
#             goes to `Session.audit` (last 8). Write-only (secret) objects log a = b = 0 and never
#             appear in the audit text; R1 of them answers (ERROR:WRITEONLY). Objects registered
#             with logged=False (upload chunks) log nothing.
#          -> SOH B0 ETX BCC (any B) -> no answer; back to 300 baud, IDLE.
#          -> a NAK -> the last answer is repeated (3 times at most; a NAK is never repeated).
#   Answers to anything else (all `STX (ERROR:<reason>) ETX BCC`):
#     bad BCC -> NAK (the client repeats); frame longer than RX_MAX -> (ERROR:LENGTH);
#     good BCC but no valid structure / non-printable data -> (ERROR:SYNTAX); unknown command letter
#     (or a P0 from the client) -> (ERROR:COMMAND); R2-R9, W2-W9, E* -> (ERROR:UNSUPPORTED);
#     R/W before the password -> (ERROR:NOACCESS), also when the level is too low; unknown OBIS ->
#     (ERROR:UNKNOWN); W1 of a read-only object -> (ERROR:READONLY); write_fn raising ValueError(r)
#     -> (ERROR:<r>) (r sanitised, 32 characters at most); any other exception in a read_fn/write_fn
#     -> (ERROR:INTERNAL).
#   `prog_idle_ms` (60 s) without a complete frame from the client in programming mode -> back to
#   300 baud, IDLE.
#
# Robustness: an inter-character gap over `char_timeout_ms` (1.5 s) discards a partial frame.
# Hunting skips everything up to the next start character the current state accepts ('/' in IDLE,
# ACK or '/' after the identification, SOH/NAK in programming mode); a second start character in a
# frame restarts the frame there. Bytes >= 0x80 (parity/framing garble as a 7E1 UART or the rig
# report it) abort the current frame. Frames are bounded (RX_MAX bytes); input during a readout is
# ignored (half duplex) except a garbled byte or '/', which ends it (see the readout above).
# Echo: an optical head may return our own bytes. Received bytes that match
# what we sent, in order, until `echo_grace_ms` after our transmission ends, are dropped; on the
# first mismatch the tentatively matched bytes (at most ECHO_CONFIRM) are replayed into the parser,
# so a client frame that happens to begin like our last frame is not lost.
#
# Security: wrong passwords (P1 and P2 share one counter) lock the port after `max_fails` (3)
# consecutive failures for 60 s, doubling per further lockout up to 24 h; a correct password resets
# the counter and the doubling. The counter is incremented and persisted BEFORE the password is
# checked (a power cut during the check costs a try), and the lockout keeps counting down only while
# the meter runs (a power cut never shortens it). Maximum number of password guesses: 33 in the
# first 24 h (11 rounds of 3 before the lockouts add up to a day: 60 s * (2**10 - 1) = 17 h), then 3
# per 24 h. Against the 8-byte P2 response or an 8-character password this is impractical. Events:
# PASSWORD_FAIL (a = level), PASSWORD_LOCKOUT (a = lockout seconds), PROGRAMMING_SESSION (a = level
# on success). Secrets never leave the meter: no R1, no log value, no audit text.
#
# Wiring: see ports/optical.py (OpticalPort, make_optical).

try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

import binascii

from metercrypto import compare_digest

from meter.common import events
from meter.common.text import sanitize
from meter.cores.iec62056_21.framing import (SOH, STX, ETX, EOT, ACK, NAK, CR, LF, SEND, BAUD, EVENT,
                                             LOCKOUT, WRITE, BAUDS, BINARY as _BINARY_ACT, RX_MAX, tdiff, tadd, bcc,
                                             value_code)
from meter.common.lockout import Lockout
from meter.cores.iec62056_21.registry import Registry  # noqa: F401 - the session's object table type

ECHO_MAX = const(128)  # echo ring
ECHO_CONFIRM = const(8)  # matched echo bytes after which they are taken as echo for good

# session states
IDLE = const(0)
WAIT_OPT = const(1)  # identification sent, waiting for the option select
READOUT = const(2)  # readout scheduled / being sent
POST = const(3)  # readout sent, NAK window
PROG = const(4)  # programming mode
BINARY = const(5)  # mode E: the line belongs to the HDLC link (port), until binary_done()

# receiver states
_HUNT = const(0)
_LINE = const(1)  # '/' ... LF
_OPT = const(2)  # ACK ... LF
_CMD = const(3)  # SOH ... ETX
_BCC = const(4)  # the byte after ETX
_SKIP = const(5)  # over-long command: skip to ETX
_SKIPBCC = const(6)


class Session:
    """Meter side of IEC 62056-21. See the module comment for the protocol and the actions.

    Session(readout, registry=None, secret=None, manufacturer='OMT', ident='OMT', address='',
            baud_char='5', rand=None, lockout=None, hmac=None, **timing)
      readout()     -> iterable of data lines (str, no CR LF), e.g. readout.Readout.lines
      registry      Registry of R1/W1 objects (None: programming mode has nothing to read or write)
      secret(level) -> bytes or None: level 1 = password, level 2 = HMAC key (e.g. board.keys)
      rand(n)       -> n random bytes (the P0 seed); os.urandom on the boards
      lockout       a Lockout (restored from storage); a fresh one if None
      hmac(key, msg) -> 32 bytes; default metercrypto.hmac_sha256 when the module has it
                    (False: no P2 at all, it answers (ERROR:UNSUPPORTED))
    Timing keywords (ms): reaction_ms=200, switch_delay_ms=1000, option_timeout_ms=1500,
      char_timeout_ms=1500, prog_idle_ms=60000, nak_window_ms=500, echo_grace_ms=500, tx_window=64.
    mode_e=True: offer protocol mode E (HDLC) in the identification (see the module comment).
    """

    def __init__(self, readout, registry=None, secret=None, manufacturer="OMT", ident="OMT",
                 address="", baud_char="5", rand=None, lockout=None, hmac=None,
                 reaction_ms=200, switch_delay_ms=1000, option_timeout_ms=1500,
                 char_timeout_ms=1500, prog_idle_ms=60000, nak_window_ms=500, echo_grace_ms=500,
                 tx_window=64, mode_e=False):
        self.readout = readout
        self.registry = registry
        self.secret = secret
        self.rand = rand
        self.lockout = lockout if lockout is not None else Lockout()
        if hmac is None:
            try:
                import metercrypto
                hmac = getattr(metercrypto, "hmac_sha256", None)
            except ImportError:
                hmac = None
        self.hmac = hmac or None  # False: P2 disabled
        if not ("0" <= baud_char <= "6") or len(baud_char) != 1:
            raise ValueError("baud_char")
        self.max_baud = ord(baud_char) - 48
        mfr = sanitize(manufacturer, 3)
        if len(mfr) != 3:
            raise ValueError("manufacturer must be 3 characters")
        self.mode_e = mode_e
        self.ident_frame = ("/" + mfr + baud_char + ("\\2" if mode_e else "") + sanitize(ident, 16)
                            + "\r\n").encode()
        self.address = sanitize(address, 32).encode()
        self.reaction_ms = reaction_ms
        self.switch_delay_ms = switch_delay_ms
        self.option_timeout_ms = option_timeout_ms
        self.char_timeout_ms = char_timeout_ms
        self.prog_idle_ms = prog_idle_ms
        self.nak_window_ms = nak_window_ms
        self.echo_grace_ms = echo_grace_ms
        self.tx_window = tx_window
        self.audit = []  # last 8 write lines (text)
        self.stats = [0, 0, 0, 0]  # frames ok, NAKs sent, errors sent, sign-ons answered
        self.faults = 0  # read functions that raised (answered INTERNAL); none expected
        # receiver
        self._rx = bytearray(RX_MAX + 8)
        self._rn = 0
        self._rs = _HUNT
        self._rt = 0
        # answer buffer (kept for a NAK repeat)
        self._tx = bytearray(RX_MAX + 16)
        self._txmv = memoryview(self._tx)
        self._txn = 0
        self._tx_repeats = 0
        # echo ring
        self._eb = bytearray(ECHO_MAX)
        self._ew = 0
        self._er = 0
        self._en = 0
        self._et = 0
        self._e_until = 0
        self._lost = False  # a session just ended on a byte at the old baud (see _byte)
        self._lost_t = 0
        self._replay = bytearray(ECHO_CONFIRM)
        # transmitter
        self._baud = 300
        self._want_baud = 0
        self._tx_end = 0
        self._txq = False  # the UART is (estimated) still shifting bytes out
        self._out = None  # current outgoing chunk (bytes-like)
        self._out_off = 0
        self._gen = None  # readout line iterator
        self._gen_bcc = 0
        self._gen_final = False
        self._out_at = 0  # earliest tick for the first byte of the pending transmission
        self._out_busy = False
        # session
        self._st = IDLE
        self._level = 0
        self._seed = b""
        self._last_act = 0
        self._readouts = 0
        self._seedctr = 0
        self._acts = []
        self._wpend = -1  # registry index of a WRITE handed to the port, until write_done()
        self._wold = None

    # ------------------------------------------------------------------ public API
    @property
    def state(self):
        return self._st

    @property
    def baud(self):
        return self._baud

    @property
    def level(self):
        return self._level

    def busy(self):
        """True while a session is in progress (the app may defer heavy work)."""
        return self._st != IDLE or self._out_busy or self._txq

    def feed(self, data, now, n=-1):
        """Received bytes data[:n] (all if n < 0) at tick `now`. Returns the action list."""
        acts = self._acts
        acts.clear()
        self._timers(now)
        if n < 0:
            n = len(data)
        if self._st == BINARY:  # the port routes the line to the HDLC link; nothing is ours
            n = 0
        for i in range(n):
            c = data[i]
            if self._en:
                if c == self._eb[self._er] and tdiff(now, self._e_until) <= 0:
                    self._er = (self._er + 1) % ECHO_MAX
                    self._en -= 1
                    if self._et < ECHO_CONFIRM:
                        self._replay[self._et] = c
                    self._et += 1
                    if self._en == 0 or self._et >= ECHO_CONFIRM:
                        self._et = 0
                    continue
                self._echo_abort(now)
            self._byte(c, now)
        self._pump(now)
        return acts

    def poll(self, now):
        """Timers and paced output. Returns the action list."""
        acts = self._acts
        acts.clear()
        self._timers(now)
        self._pump(now)
        return acts

    def reset(self, now):
        """Abandon any session (e.g. at power-up): back to IDLE at 300 baud."""
        self._acts.clear()
        self._abort_output()
        self._rs = _HUNT
        self._rn = 0
        self._en = 0
        self._et = 0
        self._level = 0
        self._st = IDLE
        self._want_baud = 0
        self._txq = False
        self._wpend = -1
        if self._baud != 300:
            self._baud = 300
            self._acts.append((BAUD, 300))
        return self._acts

    def binary_done(self, now):
        """The HDLC link of mode E ended (DISC or inactivity): back to mode C, IDLE at 300 baud
        7E1. Returns the action list (BAUD 300)."""
        acts = self._acts
        acts.clear()
        if self._st == BINARY:
            self._st = IDLE
            self._rs = _HUNT
            self._rn = 0
            self._baud = 300
            self._txq = False
            acts.append((BAUD, 300))
        return acts

    # ------------------------------------------------------------------ time and output
    def _char_ms(self, n):
        return (n * 10000 + self._baud - 1) // self._baud

    def _send(self, data, now):
        n = len(data)
        if n == 0:
            return
        self._acts.append((SEND, data))
        if not self._txq or tdiff(self._tx_end, now) < 0:
            self._tx_end = now
        self._tx_end = tadd(self._tx_end, self._char_ms(n))
        self._txq = True
        self._e_until = tadd(self._tx_end, self.echo_grace_ms)
        eb = self._eb
        w = self._ew
        for i in range(n):
            eb[w] = data[i]
            w += 1
            if w == ECHO_MAX:
                w = 0
        self._ew = w
        self._en += n
        if self._en > ECHO_MAX:  # a long stream: only its tail can still come back
            self._en = ECHO_MAX
            self._er = w
            self._et = 0

    def _echo_abort(self, now):
        k = self._et
        self._en = 0
        self._et = 0
        self._er = self._ew
        for i in range(k):
            self._byte(self._replay[i], now)

    def _queued(self, now):
        if not self._txq:
            return 0
        d = tdiff(self._tx_end, now)
        if d <= 0:
            return 0
        return (d * self._baud) // 10000 + 1

    def _start_out(self, data, at, gen=None):
        """Schedule a transmission: `data` (bytes-like) or, with gen, a readout frame."""
        self._out = data
        self._out_off = 0
        self._gen = gen
        self._gen_bcc = 0
        self._gen_final = False
        self._out_at = at
        self._out_busy = True

    def _abort_output(self):
        self._out = None
        self._gen = None
        self._out_busy = False

    def _next_chunk(self):
        """Next piece of a readout frame; False when the frame is complete."""
        g = self._gen
        if g is None or self._gen_final:
            return False
        line = None
        try:
            line = next(g)
        except StopIteration:
            line = None
        except Exception:  # a broken value source ends the frame cleanly
            line = None
        if line is None:
            b = bytearray(b"!\r\n\x03\x00")
            acc = bcc(b, 0, 4, self._gen_bcc)
            b[4] = acc
            self._out = b
            self._gen_final = True
        else:
            b = line.encode() if isinstance(line, str) else bytes(line)
            b = bytearray(b)
            for i in range(len(b)):
                c = b[i]
                if c < 0x20 or c >= 0x7F or c == 0x21 or c == 0x2F:
                    b[i] = 0x5F  # '_'
            b.extend(b"\r\n")
            self._gen_bcc = bcc(b, 0, -1, self._gen_bcc)
            self._out = b
        self._out_off = 0
        return True

    def _pump(self, now):
        if self._want_baud:
            if self._txq:
                if tdiff(now, self._tx_end) < self._guard():
                    return
                self._txq = False
            self._baud = self._want_baud
            self._want_baud = 0
            self._txq = False
            self._acts.append((_BINARY_ACT if self._st == BINARY else BAUD, self._baud))
        if not self._out_busy or tdiff(now, self._out_at) < 0:
            return
        budget = self.tx_window - self._queued(now)
        if budget < (self.tx_window >> 1) and self._out_off:
            return  # top up in chunks of half a window or more: fewer, larger writes
        while budget > 0:
            out = self._out
            if out is None or self._out_off >= len(out):
                if not self._next_chunk():
                    self._out_busy = False
                    self._out = None
                    self._on_sent(now)
                    return
                out = self._out
            k = len(out) - self._out_off
            if k > budget:
                k = budget
            if self._out_off == 0 and k == len(out):
                self._send(out, now)
            else:
                self._send(memoryview(out)[self._out_off:self._out_off + k], now)
            self._out_off += k
            budget -= k
        if self._out is not None and self._out_off >= len(self._out) and (
                self._gen is None or self._gen_final):
            self._out_busy = False
            self._out = None
            self._on_sent(now)

    def _guard(self):
        return self._char_ms(2) + 10

    def _on_sent(self, now):
        if self._st == READOUT:
            self._st = POST
        self._gen = None

    def _set_baud(self, baud):
        if baud != self._baud or self._want_baud:
            self._want_baud = baud

    def _timers(self, now):
        lk = self.lockout
        lk.tick(now)
        if self._txq and tdiff(now, self._tx_end) >= self._guard():
            self._txq = False
        if self._rs != _HUNT and tdiff(now, self._rt) > self.char_timeout_ms:
            self._rs = _HUNT
            self._rn = 0
        if self._en and tdiff(now, self._e_until) > 0:
            self._echo_abort(now)
        st = self._st
        if st == IDLE or self._out_busy:
            return
        idle_for = tdiff(now, self._tx_end)
        if st == WAIT_OPT:
            if idle_for >= self.option_timeout_ms:
                self._begin_readout(now, now)
        elif st == POST:
            if idle_for >= self.nak_window_ms:
                self._close()
        elif st == PROG:
            if tdiff(now, self._last_act) >= self.prog_idle_ms:
                self._close()

    def _close(self):
        self._level = 0
        self._st = IDLE
        self._rs = _HUNT
        self._rn = 0
        self._set_baud(300)

    def _begin_readout(self, now, at):
        gen = None
        try:
            gen = iter(self.readout())
        except Exception:  # noqa: BLE001 - counted; the readout is sent empty, the port lives on
            self.faults += 1
            gen = iter(())
        self._st = READOUT
        self._start_out(b"\x02", at, gen)

    # ------------------------------------------------------------------ receiver
    def _byte(self, c, now):
        st = self._st
        if (st == POST and c != NAK) or (st == READOUT and (c >= 0x80 or c == 0x2F)):
            # After a data message the client's only message is a NAK (a repeat request): anything
            # else means it has moved on, typically its next sign-on sent at 300 Bd and garbled at
            # our readout baud (or, mid-readout, a client that gave up). End the session now - 300
            # Bd, IDLE - instead of holding the line for the NAK window or the rest of the table,
            # and remember that the sign-on's '/' was probably the byte lost at the old baud.
            if st == READOUT:
                self._abort_output()
            self._close()
            self._lost_t = now
            self._lost = True
            if c != 0x2F:
                return
        rs = self._rs
        self._rt = now
        if c >= 0x80:  # parity / framing garble
            if rs == _SKIP or rs == _SKIPBCC:
                return
            if rs != _HUNT:
                self._rs = _HUNT
                self._rn = 0
            return
        if rs == _HUNT:
            st = self._st
            if c == 0x2F:
                self._lost = False
                if st == IDLE or st == WAIT_OPT:
                    self._rx[0] = c
                    self._rn = 1
                    self._rs = _LINE
            elif c == 0x3F and self._lost and st == IDLE:
                # '?' right after a session ended on a byte at the old baud: the sign-on whose
                # '/' was that byte (within one character timeout), taken as "/?"
                self._lost = False
                if tdiff(now, self._lost_t) <= self.char_timeout_ms:
                    self._rx[0] = 0x2F
                    self._rx[1] = c
                    self._rn = 2
                    self._rs = _LINE
            elif c == SOH:
                if st == PROG:
                    self._rx[0] = c
                    self._rn = 1
                    self._rs = _CMD
            elif c == ACK:
                if st == WAIT_OPT:
                    self._rx[0] = c
                    self._rn = 1
                    self._rs = _OPT
            elif c == NAK:
                if st == PROG or st == POST:
                    self._on_nak(now)
            return
        if rs == _LINE or rs == _OPT:
            if c == 0x2F or (c == ACK and self._st == WAIT_OPT):  # resync on a new start char
                self._rn = 0
                rs = _LINE if c == 0x2F else _OPT
                self._rs = rs
            n = self._rn
            if n >= 40:
                self._rs = _HUNT
                self._rn = 0
                return
            self._rx[n] = c
            self._rn = n + 1
            if c == LF:
                self._rs = _HUNT
                if rs == _LINE and self._rx[0] == 0x2F:
                    self._on_signon(now)
                elif self._rx[0] == ACK:
                    self._on_option(now)
                self._rn = 0
            return
        if rs == _CMD:
            n = self._rn
            if c == SOH:
                n = 0
            elif n >= RX_MAX:
                self._rs = _SKIPBCC if (c == ETX or c == EOT) else _SKIP
                self._rn = 0
                return
            self._rx[n] = c
            self._rn = n + 1
            if c == ETX or c == EOT:
                self._rs = _BCC
            return
        if rs == _BCC:
            self._rs = _HUNT
            self._on_command(c, now)
            self._rn = 0
            return
        if rs == _SKIP:
            if c == ETX or c == EOT:
                self._rs = _SKIPBCC
            return
        if rs == _SKIPBCC:
            self._rs = _HUNT
            if self._st == PROG:
                self._last_act = now
                self._answer_error("LENGTH", now)

    # ------------------------------------------------------------------ sign-on and option select
    def _on_signon(self, now):
        rx = self._rx
        n = self._rn
        # '/' '?' address '!' CR LF
        if n < 5 or rx[1] != 0x3F or rx[n - 3] != 0x21 or rx[n - 2] != CR:
            return
        a0 = 2
        a1 = n - 3
        if a1 - a0 > 32:
            return
        for i in range(a0, a1):
            c = rx[i]
            if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c == 0x20):
                return
        if a1 > a0 and not self._address_match(rx, a0, a1):
            return
        self.stats[3] += 1
        self._readouts = 0
        self._abort_output()
        self._level = 0
        if self._baud != 300:  # cannot happen at IDLE; keep the line settings consistent
            self._set_baud(300)
        self._st = WAIT_OPT
        self._start_out(self.ident_frame, tadd(now, self.reaction_ms))

    def _address_match(self, rx, a0, a1):
        own = self.address
        i = a0
        while i < a1 and rx[i] == 0x30:
            i += 1
        j = 0
        while j < len(own) and own[j] == 0x30:
            j += 1
        if a1 - i != len(own) - j:
            return False
        while i < a1:
            if rx[i] != own[j]:
                return False
            i += 1
            j += 1
        return True

    def _on_option(self, now):
        if self._st != WAIT_OPT or self._out_busy:
            return
        rx = self._rx
        n = self._rn
        ok = (n == 6 and rx[4] == CR and rx[5] == LF and 0x30 <= rx[2] <= 0x36
              and rx[2] - 0x30 <= self.max_baud)
        if ok and self.mode_e and rx[1] == 0x32 and rx[3] == 0x32:  # ACK 2 Z 2: mode E (HDLC)
            self._st = BINARY
            self._level = 0
            self._want_baud = BAUDS[rx[2] - 0x30]  # force the switch even at the same baud: 8N1
            self._pump(now)
            return
        ok = ok and rx[1] == 0x30 and (rx[3] == 0x30 or rx[3] == 0x31)
        if not ok:  # invalid or unsupported option: mode A/B readout at the current baud
            self._begin_readout(now, tadd(now, self.reaction_ms))
            return
        baud = BAUDS[rx[2] - 0x30]
        delay = self.reaction_ms
        if baud != self._baud:
            self._set_baud(baud)
            delay = self.switch_delay_ms
        at = tadd(now, delay)
        if rx[3] == 0x30:
            self._begin_readout(now, at)
            return
        # programming mode
        self._st = PROG
        self._level = 0
        self._last_act = at
        self._tx_repeats = 0
        self._seed = self._new_seed()
        t = self._tx
        t[0] = SOH
        t[1] = 0x50
        t[2] = 0x30
        t[3] = STX
        t[4] = 0x28
        k = 5
        for c in self._seed:
            t[k] = c
            k += 1
        t[k] = 0x29
        t[k + 1] = ETX
        t[k + 2] = bcc(t, 1, k + 2)
        self._txn = k + 3
        self._start_out(self._txmv[:self._txn], at)

    def _new_seed(self):
        r = None
        if self.rand is not None:
            try:
                r = self.rand(8)
            except OSError:
                r = None
        if not r or len(r) < 8:
            # No random source wired: the seed still changes per session but is predictable,
            # which weakens P2 against an eavesdropper; the wiring always passes os.urandom.
            self._seedctr += 1
            r = bytes([(self._seedctr * 37 + i * 101) & 0xFF for i in range(8)])
        r = r[:8]
        return binascii.hexlify(r).upper()

    # ------------------------------------------------------------------ programming mode
    def _on_nak(self, now):
        if self._st == POST:
            if self._readouts < 2 and not self._out_busy:
                self._readouts += 1
                self._begin_readout(now, tadd(now, self.reaction_ms))
            return
        if self._st != PROG or self._txn == 0 or self._out_busy:
            return
        if self._tx[0] == NAK or self._tx_repeats >= 3:
            return
        self._tx_repeats += 1
        self._last_act = now
        self._start_out(self._txmv[:self._txn], tadd(now, self.reaction_ms))

    def _answer(self, n, now):
        self._txn = n
        self._tx_repeats = 0
        self._start_out(self._txmv[:n], tadd(now, self.reaction_ms))

    def _answer_byte(self, c, now):
        self._tx[0] = c
        if c == NAK:
            self.stats[1] += 1
        self._answer(1, now)

    def _answer_data(self, text, now):
        """STX text ETX BCC."""
        t = self._tx
        b = text.encode()
        if len(b) > RX_MAX:
            b = b"(ERROR:LENGTH)"
        t[0] = STX
        t[1:1 + len(b)] = b
        k = 1 + len(b)
        t[k] = ETX
        t[k + 1] = bcc(t, 1, k + 1)
        self._answer(k + 2, now)

    def _answer_error(self, reason, now):
        self.stats[2] += 1
        self._answer_data("(ERROR:" + sanitize(reason, 32) + ")", now)

    def _on_command(self, bcc_byte, now):
        if self._st != PROG or self._wpend >= 0:  # half duplex: no new command before the answer
            return
        rx = self._rx
        n = self._rn  # rx[0] = SOH ... rx[n-1] = ETX/EOT
        self._last_act = now
        if bcc(rx, 1, n) != bcc_byte:
            self._answer_byte(NAK, now)
            return
        self.stats[0] += 1
        if n < 4 or rx[n - 1] != ETX:
            self._answer_error("SYNTAX", now)
            return
        cmd = rx[1]
        typ = rx[2]
        if n == 4:
            data = None
        elif rx[3] == STX:
            for i in range(4, n - 1):
                c = rx[i]
                if c < 0x20 or c >= 0x7F:
                    self._answer_error("SYNTAX", now)
                    return
            data = bytes(rx[4:n - 1]).decode()
        else:
            self._answer_error("SYNTAX", now)
            return
        if cmd == 0x42:  # B: break
            self._abort_output()
            self._txn = 0
            self._close()
            return
        if not (0x30 <= typ <= 0x39):
            self._answer_error("SYNTAX", now)
            return
        if cmd == 0x50:  # P
            if typ == 0x31 or typ == 0x32:
                self._password(typ - 0x30, data, now)
            else:
                self._answer_error("COMMAND", now)
            return
        if cmd == 0x52 or cmd == 0x57:  # R, W
            if typ != 0x31:
                self._answer_error("UNSUPPORTED", now)
                return
            self._rw(cmd == 0x57, data, now)
            return
        if cmd == 0x45:  # E
            self._answer_error("UNSUPPORTED", now)
            return
        self._answer_error("COMMAND", now)

    def _log(self, code, a=0, b=0):
        self._acts.append((EVENT, code, a, b))

    def _lockout_changed(self, now):
        lk = self.lockout
        if lk.changed:
            lk.changed = False
            self._acts.append((LOCKOUT, lk.dump(now)))

    def _password(self, level, data, now):
        if data is None or len(data) < 2 or data[0] != "(" or data[-1] != ")":
            self._answer_error("SYNTAX", now)
            return
        value = data[1:-1]
        if "(" in value or ")" in value:
            self._answer_error("SYNTAX", now)
            return
        lk = self.lockout
        if lk.locked(now):
            self._answer_error("LOCKED %d" % lk.remaining_s(now), now)
            return
        key = None
        if self.secret is not None:
            try:
                key = self.secret(level)
            except (KeyError, OSError, ValueError):
                key = None  # no usable secret: the level has no password (refused below)
        if isinstance(key, str):
            key = key.encode()
        if not key:
            self._answer_error("NOPASSWORD", now)
            return
        if level == 2 and self.hmac is None:
            self._answer_error("UNSUPPORTED", now)
            return
        if lk.fails >= lk.max_fails:
            # tries counted before a power cut interrupted their check: the lockout is due now
            s = lk.failure(now)
            self._lockout_changed(now)
            self._log(events.PASSWORD_LOCKOUT, s, 0)
            self._answer_error("LOCKED %d" % lk.remaining_s(now), now)
            return
        lk.attempt()  # counted (and persisted: the LOCKOUT action precedes the answer) first
        self._lockout_changed(now)
        if level == 1:
            ok = compare_digest(value.encode(), key)
        else:
            expect = binascii.hexlify(self.hmac(key, self._seed)[:8]).upper()
            ok = compare_digest(value.upper().encode(), expect)
        if ok:
            lk.success()
            self._lockout_changed(now)
            if level > self._level:
                self._level = level
            self._log(events.PROGRAMMING_SESSION, level, 0)
            self._answer_byte(ACK, now)
            return
        self._log(events.PASSWORD_FAIL, level, 0)
        s = lk.failure(now)
        self._lockout_changed(now)
        if s:
            self._log(events.PASSWORD_LOCKOUT, s, 0)
        self._answer_error("PASSWORD", now)

    def _rw(self, write, data, now):
        if data is None:
            self._answer_error("SYNTAX", now)
            return
        k = data.find("(")
        if k <= 0 or data[-1] != ")" or k > 32:
            self._answer_error("SYNTAX", now)
            return
        obis = data[:k]
        value = data[k + 1:-1]
        if "(" in value or ")" in value or "/" in obis or "!" in obis:
            self._answer_error("SYNTAX", now)
            return
        reg = self.registry
        i = reg.find(obis) if reg is not None else -1
        if not write:
            if i >= 0:
                if self._level < reg.read_levels[i]:
                    self._answer_error("NOACCESS", now)
                    return
                rf = reg.readers[i]
                if rf is None:
                    self._answer_error("WRITEONLY", now)
                    return
                try:
                    v = rf()
                except Exception:  # noqa: BLE001 - a getter's fault, answered and counted
                    self.faults += 1
                    self._answer_error("INTERNAL", now)
                    return
                self._answer_data(reg.codes[i] + "(" + v + ")", now)
                return
            full = reg.resolve_fallback(obis) if reg is not None else None
            v = None
            if full is not None:
                if self._level < 1:
                    self._answer_error("NOACCESS", now)
                    return
                try:
                    v = reg.fallback(full)
                except Exception:  # noqa: BLE001 - a getter's fault, answered and counted
                    self.faults += 1
                    self._answer_error("INTERNAL", now)
                    return
            if v is None:
                self._answer_error("UNKNOWN", now)
                return
            self._answer_data(full + "(" + v + ")", now)
            return
        # write
        if i < 0:
            full = reg.resolve_fallback(obis) if reg is not None else None
            known = False
            try:
                known = full is not None and reg.fallback(full) is not None
            except Exception:  # noqa: BLE001 - a broken owner: counted, the write is refused
                self.faults += 1
                known = False
            if known:
                self._answer_error("READONLY" if self._level >= 1 else "NOACCESS", now)
            else:
                self._answer_error("UNKNOWN", now)
            return
        if self._level < reg.levels[i] or self._level < 1:
            self._answer_error("NOACCESS", now)
            return
        if reg.writers[i] is None:
            self._answer_error("READONLY", now)
            return
        rf = reg.readers[i]
        old = None
        try:
            if rf is not None:
                old = rf()
        except Exception:  # noqa: BLE001 - a broken getter only loses the old value in the log
            old = None
        self._wpend = i
        self._wold = old
        self._wval = value
        self._acts.append((WRITE, i, value))

    def write_done(self, reason, now):
        """The port applied the WRITE action (registry.write): reason None = accepted, else the
        refusal text. Answers ACK or (ERROR:<reason>), logs PARAM_WRITE (a/b = old/new value code)
        and the audit line. Returns the action list (appended to the current one)."""
        i = self._wpend
        if i < 0:
            return self._acts
        self._wpend = -1
        if reason is not None:
            self._answer_error(reason or "VALUE", now)
            return self._acts
        reg = self.registry
        rf = reg.readers[i]
        new = None
        try:
            if rf is not None:
                new = rf()
        except Exception:  # noqa: BLE001 - as above
            new = None
        code = reg.codes[i]
        old = self._wold
        value = self._wval
        if rf is None:
            a = b = 0
            line = "W1 %s <secret> L%d" % (code, self._level)
        else:
            a = value_code(old) if old is not None else 0
            b = value_code(new if new is not None else value)
            shown = new if new is not None else value
            line = "W1 %s %s -> %s L%d" % (code, old, shown, self._level)
        if reg.logged[i]:
            self._log(events.PARAM_WRITE, a, b)
            au = self.audit
            if len(au) >= 8:
                au.pop(0)
            au.append(line)
        self._answer_byte(ACK, now)
        return self._acts
