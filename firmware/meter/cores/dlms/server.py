# The DLMS/COSEM server engine: one instance per TCP connection (TcpServer, IEC 62056-47 wrapper)
# or per HDLC link (HdlcServer, IEC 62056-46), each with its own Application (one association).
#
#   srv.receive(data, now) -> actions      bytes from the link, `now` a monotonic ms tick
#   srv.poll(now) -> actions               call every second or so: inactivity time-outs
# actions: see actions.py; (SEND, bytes) is valid until the next receive/poll call.
#
# Application: APDU in, APDU out. AARQ/RLRQ (association.py), GET/SET/ACTION (services.py), in
# plain or glo-ciphered form (security.py):
#   glo-get/set/action-request (C8/C9/CB) or general-glo-ciphering (DB, with the client's system
#   title) in a ciphered association: deciphered in place (IV = client system title || IC), the
#   IC must exceed the last accepted one (STORE "rx_ic"); the answer goes out in the same form
#   (glo-get/set/action-response CC/CD/CF, or general-glo-ciphering with our system title) with
#   the request's security control byte and the next server IC (STORE "tx_ic" reservations).
# exception-response D8 (Green Book 9.3.5): state-error, service-error [, u32]:
#   no association (or another client SAP than the associated one)  01 01  service-not-allowed,
#                                                                    operation-not-possible
#   ciphered APDU in a plain association, or plain in a ciphered one  01 01
#   deciphering failed (tag, SC, length)                             01 05  deciphering-error
#   invocation counter not above the last accepted one               01 06 + expected minimum
#   unknown APDU tag or service variant                              02 02  service-unknown,
#                                                                    service-not-supported
#   malformed request (truncated, bad descriptor, trailing bytes)    02 03  other-reason
# Nothing changes on any of these.
from micropython import const
import struct

from meter.common.ticks import tdiff
from meter.cores.dlms import apdu as A
from meter.cores.dlms import axdr
from meter.cores.dlms import actions as X
from meter.cores.dlms import wrapper
from meter.cores.dlms.association import Association, NON_ASSOCIATED
from meter.cores.dlms.security import Cipher, DecipherError, SC_AUTH
from meter.cores.dlms.services import Services, Malformed, Unsupported

EXCEPTION_RESPONSE = const(0xD8)
_GLO_OFFSET = const(8)  # glo-get-request C8 = get-request C0 + 8; responses likewise
GENERAL_GLO = const(0xDB)
# room before a response APDU: wrapper header 8 + general-glo header (1 + 1 + 8 + 3 + 5)
PRE = const(26)
_CIPHER_OVERHEAD = const(30)  # that header (18) + GCM tag 12

# exception-response codes
STATE_NOT_ALLOWED = const(1)
STATE_UNKNOWN = const(2)
ERR_OPERATION = const(1)
ERR_NOT_SUPPORTED = const(2)
ERR_OTHER = const(3)
ERR_DECIPHER = const(5)
ERR_IC = const(6)


class Application:
    def __init__(self, registry, clients, keys, sec, lockout, rand, max_pdu=1024, block_fifo=None,
                 max_set=1024, max_items=axdr.MAX_ITEMS, security_setup_ln=None):
        """registry: objects.Registry (the mapping); clients: association.Client list; keys:
        security.Keys; sec: association.SecState; lockout: common.lockout.Lockout (sec, lockout and
        keys are shared by all instances); rand(n) -> n random bytes (StoC challenges)."""
        self.max_pdu = max_pdu
        self.cipher = Cipher()
        self.assoc = Association(registry, clients, keys, sec, lockout, rand, max_pdu,
                                 security_setup_ln)
        self.assoc.cipher = self.cipher
        self.svc = Services(registry, self.assoc, block_fifo or max_pdu + 256, max_set, max_items)
        self.tx = bytearray(PRE + max_pdu + 16)

    def release(self, actions):
        a = self.assoc
        if a.status != NON_ASSOCIATED:
            actions.append((X.EVENT, X.EV_RELEASED, a.sap, 0))
        a.release()
        self.svc.reset()

    def _exception(self, state, err, extra=-1):
        t = self.tx
        t[PRE] = EXCEPTION_RESPONSE
        t[PRE + 1] = state
        t[PRE + 2] = err
        if extra >= 0:
            struct.pack_into(">I", t, PRE + 3, extra)
            return PRE, 7
        return PRE, 3

    def handle(self, buf, pos, end, sap, now, actions):
        """One APDU buf[pos:end] from client `sap`; returns (start, length) of the answer in
        self.tx, or None (no answer)."""
        if pos >= end:
            return None
        a = self.assoc
        a.now = now
        a.pending_actions = actions
        out = self.tx
        tag = buf[pos]
        if tag == A.AARQ:
            self.release(actions)
            e = a.aarq(buf, pos, end, sap, now, out, PRE, actions)
            return PRE, e - PRE
        if tag == A.RLRQ:
            try:
                A.parse_rlrq(buf, pos, end)
            except A.ApduError:
                return self._exception(STATE_UNKNOWN, ERR_OTHER)
            self.release(actions)
            return PRE, A.build_rlre(out, PRE) - PRE
        if a.status == NON_ASSOCIATED or sap != a.sap:
            return self._exception(STATE_NOT_ALLOWED, ERR_OPERATION)
        sc = 0
        general = tag == GENERAL_GLO
        ciphered = general or 0xC8 <= tag <= 0xCB
        if ciphered:
            if not a.ciphered():
                return self._exception(STATE_NOT_ALLOWED, ERR_OPERATION)
            try:
                p = pos + 1
                if general:
                    # general-glo-ciphering: system-title (octet string), ciphered-content
                    n, p = axdr.read_length(buf, p, end)
                    if n != 8 or p + 8 > end or bytes(buf[p:p + 8]) != a.title:
                        raise DecipherError(0)
                    p += 8
                n, p = axdr.read_length(buf, p, end)
                if p + n != end:
                    raise DecipherError(0)
                sc, ic, pos, n = self.cipher.decipher(a.keys, a.title, buf, p, end)
            except (DecipherError, axdr.AxdrError):
                return self._exception(STATE_NOT_ALLOWED, ERR_DECIPHER)
            if not a.sec.accept_rx(ic, actions):
                actions.append((X.EVENT, X.EV_REPLAY, sap, ic))
                return self._exception(STATE_NOT_ALLOWED, ERR_IC, (a.sec.rx_ic + 1) & 0xFFFFFFFF)
            end = pos + n
            if n == 0 or (not general and buf[pos] != tag - _GLO_OFFSET):
                return self._exception(STATE_NOT_ALLOWED, ERR_DECIPHER)
            tag = buf[pos]
        elif a.ciphered() and tag in (0xC0, 0xC1, 0xC3):
            return self._exception(STATE_NOT_ALLOWED, ERR_OPERATION)
        self.svc.authenticated = bool(sc & SC_AUTH)
        lim = min(a.client_pdu, self.max_pdu)
        if ciphered:
            lim -= _CIPHER_OVERHEAD
        lim += PRE
        svc = self.svc
        try:
            if tag == 0xC0:
                e = svc.get(buf, pos + 1, end, out, PRE, lim)
            elif tag == 0xC1:
                e = svc.set(buf, pos + 1, end, out, PRE, lim, actions)
            elif tag == 0xC3:
                e = svc.action(buf, pos + 1, end, out, PRE, lim, actions)
            else:
                return self._exception(STATE_UNKNOWN, ERR_NOT_SUPPORTED)
        except Unsupported:
            return self._exception(STATE_UNKNOWN, ERR_NOT_SUPPORTED)
        except Malformed:
            return self._exception(STATE_UNKNOWN, ERR_OTHER)
        n = e - PRE
        if not ciphered:
            return PRE, n
        # glo-xxx-response: tag | length | SC | IC | ciphertext | tag, header ending at PRE
        try:
            ic = a.sec.next_tx(actions)
        except DecipherError:
            return self._exception(STATE_NOT_ALLOWED, ERR_DECIPHER)
        rtag = out[PRE] + _GLO_OFFSET
        n = self.cipher.encipher(a.keys, sc, ic, out, PRE, n)
        ln = 5 + n
        hs = PRE - 5 - axdr.length_size(ln)
        axdr.write_length(out, hs, ln)
        if general:  # answer in the form asked: DB | 08 | our system title | length | ...
            hs -= 10
            out[hs + 1] = 8
            out[hs + 2:hs + 10] = a.keys.system_title
            rtag = GENERAL_GLO
        else:
            hs -= 1
        out[hs] = rtag
        out[PRE - 5] = sc
        struct.pack_into(">I", out, PRE - 4, ic)
        return hs, PRE + n - hs


class _Out:
    """Accumulates the frames of one receive() call (normally one)."""

    def __init__(self, size):
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.n = 0
        self.dropped = 0

    def add(self, src, start, n):
        if self.n + n > len(self.buf):
            self.dropped += 1
            return
        self.buf[self.n:self.n + n] = src[start:start + n]
        self.n += n


class TcpServer:
    def __init__(self, app, logical_device=1, inactivity_ms=120000):
        self.app = app
        self.ld = logical_device
        self.inactivity_ms = inactivity_ms
        self.rx = wrapper.Rx(app.max_pdu + 32)
        self.out = _Out(2 * len(app.tx))
        self.acts = []
        self.t_last = None
        self.closed = False

    def receive(self, data, now):
        acts = self.acts
        del acts[:]
        out = self.out
        out.n = 0
        self.t_last = now
        if self.closed:
            return acts
        rx = self.rx
        app = self.app
        tmv = memoryview(app.tx)
        pos, end = 0, len(data)
        while pos < end:
            try:
                pos = rx.feed(data, pos, end)
            except wrapper.WrapperError:
                self.closed = True
                app.release(acts)
                break
            if not rx.ready():
                continue
            src, dst, n = rx.src(), rx.dst(), rx.apdu_len()
            rx.reset()
            if dst != self.ld:
                continue
            r = app.handle(rx.buf, wrapper.HEADER, wrapper.HEADER + n, src, now, acts)
            if r is not None:
                s, k = r
                wrapper.put_header(tmv[s - wrapper.HEADER:s], self.ld, src, k)
                out.add(tmv, s - wrapper.HEADER, k + wrapper.HEADER)
        if out.n:
            acts.append((X.SEND, out.mv[:out.n]))
        if self.closed:
            acts.append((X.CLOSE,))
        return acts

    def poll(self, now):
        acts = self.acts
        del acts[:]
        if self.t_last is None:
            self.t_last = now
        if not self.closed and tdiff(now, self.t_last) > self.inactivity_ms:
            self.closed = True
            self.app.release(acts)
            acts.append((X.CLOSE,))
        return acts

    def close(self):
        """The connection went away: release the association (returns the event actions)."""
        acts = self.acts
        del acts[:]
        self.closed = True
        self.app.release(acts)
        return acts


class HdlcServer:
    def __init__(self, app, link):
        from meter.cores.dlms import hdlc  # only with HDLC (mode E): a TCP-only meter never loads it
        self.app = app
        self.link = link
        self.ev_apdu = hdlc.APDU
        self.ev_reset = (hdlc.CONNECTED, hdlc.DISCONNECTED)
        self.out = _Out(2 * len(link.tx))
        self.acts = []

    def receive(self, data, now, n=-1):
        """data[:n] (all when n < 0) from the line."""
        acts = self.acts
        del acts[:]
        out = self.out
        out.n = 0
        link = self.link
        pos, end = 0, len(data) if n < 0 else n
        while pos < end:
            pos = link.feed(data, pos, end, now)
            self._after(link, now, acts)
        if out.n:
            acts.append((X.SEND, out.mv[:out.n]))
        return acts

    def _after(self, link, now, acts):
        out = self.out
        ev = link.event
        if link.tx_len:
            out.add(link.tx, 0, link.tx_len)
        if ev in self.ev_reset:
            self.app.release(acts)
        elif ev == self.ev_apdu:
            r = self.app.handle(link.apdu, 0, link.apdu_len, link.client, now, acts)
            if r is None:
                link.send_ack()
            else:
                s, k = r
                link.send_apdu(memoryview(self.app.tx)[s:s + k], k)
            if link.tx_len:
                out.add(link.tx, 0, link.tx_len)

    def poll(self, now):
        acts = self.acts
        del acts[:]
        self.out.n = 0
        self.link.poll(now)
        self._after(self.link, now, acts)
        if self.out.n:
            acts.append((X.SEND, self.out.mv[:self.out.n]))
        return acts
