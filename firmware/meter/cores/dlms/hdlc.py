# HDLC data link layer, server (secondary station) side: IEC 62056-46 (Green Book 8.4), sans-I/O.
#
# Frame (clause 5.3): 7E | format 2 | dst addr | src addr | control | [HCS 2 | info] | FCS 2 | 7E
#   format = 0xA000 | S << 11 | length, length = bytes between the flags; S = segmentation (more
#   segments follow). No bit/byte stuffing: the length field delimits the frame. HCS covers format
#   .. control, FCS the whole frame; both CRC-16/X-25 (fcs.py), low byte first. A frame without an
#   information field has no HCS.
#   Addresses (clause 5.3.2): each byte's LSB is 0 except the last. Client: 1 byte, (SAP << 1) | 1.
#   Server: 1 byte (upper HDLC address = logical device), 2 bytes (upper, lower = physical device)
#   or 4 bytes (upper and lower as 14 bits each, 7 bits per byte). We answer in the form received.
#   Control: I = N(R)<<5 | P<<4 | N(S)<<1; RR = N(R)<<5 | P<<4 | 0x01; RNR 0x05; SNRM 0x83;
#   DISC 0x43; UA 0x63; DM 0x0F; FRMR 0x87; UI 0x03 (+0x10 for P/F).
#   I-frames carry the LLC header E6 E6 00 (client -> server) / E6 E7 00 (server -> client) before
#   the APDU, in the first segment only.
#
# Behaviour:
#   - Frames with a bad HCS or FCS, a wrong format type, a bad address or an unknown destination
#     are dropped silently (clause 6.4.4.4.3.3). A partial frame is dropped after `inter_frame_ms`
#     of silence.
#   - NDM (disconnected): SNRM -> UA with the negotiated parameters (clause 6.4.4.4.3.2: max info
#     field length tx/rx, window size tx/rx; we support window 1 and answer 1), V(S)=V(R)=0 ->
#     NRM. DISC or anything else with P=1 -> DM. SNRM in NRM resets the link (new connection).
#   - NRM: I-frame with N(S) = V(R): accepted; a segment (S=1) is answered with RR, the last one
#     delivers the APDU upward (event APDU). The reply APDU is segmented by send_apdu(): the first
#     segment now, each next one when the client's RR acknowledges the previous (N(R) = V(S)).
#     A repeated I-frame (N(S) = V(R) - 1) or an RR with N(R) = V(S) - 1 means the client lost our
#     last frame: it is sent again. RR with nothing pending -> RR. DISC -> UA, event DISCONNECTED.
#     An unknown control field -> FRMR.
#   - `inactivity_ms` without a valid frame in NRM -> NDM, event DISCONNECTED (clause 6.4.4.4.3.5
#     inactivity time-out); detected in poll(now) or the next feed().
#
# Time: `now` is a monotonic ms tick that may wrap at 2**30 (all differences go through common.ticks.tdiff).
# Memory: the receive frame, the transmit frame and the reassembled APDU live in three
# preallocated buffers; nothing is allocated per byte or per frame.
from micropython import const
import struct

from meter.common.ticks import tdiff
from meter.cores.dlms import fcs as _fcs

FLAG = const(0x7E)

# control field values (P/F bit clear)
I_FRAME = const(0x00)
RR = const(0x01)
RNR = const(0x05)
SNRM = const(0x83)
DISC = const(0x43)
UA = const(0x63)
DM = const(0x0F)
FRMR = const(0x87)
UI = const(0x03)
PF = const(0x10)

# events (Link.event after feed/poll)
NONE = const(0)
APDU = const(1)
CONNECTED = const(2)
DISCONNECTED = const(3)

# negotiation parameter ids (clause 6.4.4.4.3.2)
_MAX_INFO_TX = const(5)
_MAX_INFO_RX = const(6)
_WINDOW_TX = const(7)
_WINDOW_RX = const(8)

DEFAULT_INFO = const(128)
OVERHEAD = const(15)  # format 2 + dst 4 + src 1 + control 1 + HCS 2 + FCS 2 + 2 flags + spare


_HUNT = const(0)
_BODY = const(1)




class Link:
    def __init__(self, upper=1, lower=None, max_info=DEFAULT_INFO, max_apdu=1024,
                 inactivity_ms=120000, inter_frame_ms=1000):
        """upper: our logical device address; lower: our physical address (None: accept any
        lower address, and 1-byte addressing); max_info: our largest information field, both
        directions (>= 32); max_apdu: longest APDU we reassemble from segments."""
        self.upper = upper
        self.lower = lower
        self.cap = max_info
        self.inactivity_ms = inactivity_ms
        self.inter_frame_ms = inter_frame_ms
        self.rxf = bytearray(max_info + OVERHEAD)
        self.tx = bytearray(max_info + OVERHEAD)
        self.apdu = bytearray(max_apdu)
        self.tx_len = 0
        self.event = NONE
        self.apdu_len = 0
        self.client = 0  # client SAP of the connection
        self.connected = False
        self._state = _HUNT
        self._n = 0
        self._need = 0
        self._t_byte = 0
        self._t_frame = 0
        self._addr = bytearray(4)  # our address as the client addressed us
        self._addr_len = 1
        self._reset_link()

    def reset(self):
        """A new line (mode E entered again on the optical port): disconnected, hunting."""
        self.connected = False
        self.event = NONE
        self.tx_len = 0
        self._state = _HUNT
        self._n = 0
        self._reset_link()

    def _reset_link(self):
        self.vs = 0
        self.vr = 0
        self.info_tx = DEFAULT_INFO
        self.info_rx = DEFAULT_INFO
        self._rx_fill = 0
        self._rx_over = False
        self._pend = None  # memoryview of the APDU being sent in segments
        self._pend_pos = 0
        self._pend_len = 0
        # our last frame in NRM, rebuilt on a retransmission request instead of kept as a copy:
        # 0 none, else the control byte of an RR, or -1 for an I-frame segment described by
        # _last_src/_last_pos/_last_k/_last_ctrl/_last_more
        self._last = 0
        self._last_src = None
        self._last_pos = 0
        self._last_k = 0
        self._last_ctrl = 0
        self._last_more = False

    # ---- input ----

    def feed(self, data, pos, end, now):
        """Consume data[pos:end] up to and including one complete frame; return the new pos.
        Afterwards: self.event and, when self.tx_len > 0, a frame to send in self.tx[:tx_len]."""
        self.event = NONE
        self.tx_len = 0
        self._check_idle(now)
        if self.event != NONE:
            return pos
        if self._state == _BODY and self._n and tdiff(now, self._t_byte) > self.inter_frame_ms:
            self._state = _HUNT
        self._t_byte = now
        rxf = self.rxf
        while pos < end:
            b = data[pos]
            pos += 1
            if self._state == _HUNT:
                if b == FLAG:
                    self._state = _BODY
                    self._n = 0
                continue
            n = self._n
            if n == 0:
                if b == FLAG:  # flag fill between frames
                    continue
                if b & 0xF0 != 0xA0:
                    self._state = _HUNT
                    continue
            elif n == 1:
                ln = ((rxf[0] & 7) << 8) | b
                if ln < 7 or ln > len(rxf):
                    self._state = _HUNT
                    continue
                self._need = ln
            elif n == self._need:
                # the closing flag; it may also open the next frame
                self._n = 0
                if b != FLAG:
                    self._state = _HUNT
                    continue
                self._frame(now)
                return pos
            rxf[n] = b
            self._n = n + 1
        return pos

    def poll(self, now):
        """Timeouts without input; afterwards self.event may be DISCONNECTED."""
        self.event = NONE
        self.tx_len = 0
        self._check_idle(now)

    def _check_idle(self, now):
        if self.connected and tdiff(now, self._t_frame) > self.inactivity_ms:
            self.connected = False
            self._reset_link()
            self.event = DISCONNECTED

    def _parse_addr(self, pos, end):
        """-> the position after one address field (at most 4 bytes), or 0 when malformed."""
        rxf = self.rxf
        lim = min(end, pos + 4)
        while pos < lim:
            if rxf[pos] & 1:
                return pos + 1
            pos += 1
        return 0

    def _frame(self, now):
        rxf = self.rxf
        ln = self._need
        if not _fcs.check(rxf, 0, ln):
            return
        seg = rxf[0] & 0x08
        p = self._parse_addr(2, ln - 2)
        dlen = p - 2
        if p == 0 or dlen == 3:
            return
        if not self._for_us(2, dlen):
            return
        if self._parse_addr(p, ln - 2) != p + 1:  # client addresses are one byte
            return
        p += 1
        client = rxf[p - 1] >> 1
        if p >= ln - 2:
            return
        ctrl = rxf[p]
        p += 1
        info = p
        if ln - 2 > p:  # an information field: HCS first
            if ln - 2 < p + 2 or not _fcs.check(rxf, 0, p + 2):
                return
            info = p + 2
        ilen = ln - 2 - info
        self._dispatch(ctrl, client, dlen, seg, info, ilen, now)

    def _for_us(self, p, dlen):
        rxf = self.rxf
        if dlen == 4:
            up = ((rxf[p] >> 1) << 7) | (rxf[p + 1] >> 1)
            lo = ((rxf[p + 2] >> 1) << 7) | (rxf[p + 3] >> 1)
        elif dlen == 2:
            up = rxf[p] >> 1
            lo = rxf[p + 1] >> 1
        else:
            up = rxf[p] >> 1
            lo = None
        if up != self.upper:
            return False
        if self.lower is not None and lo is not None and lo != self.lower:
            return False
        return True

    def _dispatch(self, ctrl, client, dlen, seg, info, ilen, now):
        pf = ctrl & PF
        c = ctrl & ~PF
        if c == SNRM:
            self._snrm(client, dlen, info, ilen, now)
            return
        if not self.connected or client != self.client:
            if pf:
                self._remember_addr(dlen)
                self._send_ctrl(DM | PF, client)
            return
        self._t_frame = now
        if c == DISC:
            self.connected = False
            self._reset_link()
            self._send_ctrl(UA | PF, client)
            self.event = DISCONNECTED
        elif c & 1 == 0:
            self._iframe(ctrl, seg, info, ilen)
        elif c & 0x0F == RR or c & 0x0F == RNR:
            nr = c >> 5
            if c & 0x0F == RNR:
                return
            if self._pend is not None and nr == self.vs:
                self._send_segment()
            elif nr == (self.vs - 1) & 7 and self._last:
                self._resend()
            elif pf:
                self._send_ctrl(RR | PF | (self.vr << 5), client)
        elif c == UI:
            return
        else:
            self._frmr(ctrl)

    def _remember_addr(self, dlen):
        for i in range(dlen):
            self._addr[i] = self.rxf[2 + i]
        self._addr_len = dlen

    # ---- SNRM / UA negotiation ----

    def _snrm(self, client, dlen, info, ilen, now):
        tx_max = DEFAULT_INFO  # what the client will send at most
        rx_max = DEFAULT_INFO  # what the client can receive
        if ilen:
            rxf = self.rxf
            if ilen < 3 or rxf[info] != 0x81 or rxf[info + 1] != 0x80:
                return
            glen = rxf[info + 2]
            p = info + 3
            end = p + glen
            if end > info + ilen:
                return
            while p < end:
                if p + 2 > end:
                    return
                pid = rxf[p]
                plen = rxf[p + 1]
                p += 2
                if plen < 1 or plen > 4 or p + plen > end:
                    return
                v = 0
                for i in range(plen):
                    v = (v << 8) | rxf[p + i]
                p += plen
                if pid == _MAX_INFO_TX:
                    tx_max = v
                elif pid == _MAX_INFO_RX:
                    rx_max = v
                # window sizes: we only do 1 and say so in the UA
        if tx_max < 32 or rx_max < 32:
            self._remember_addr(dlen)
            self._send_ctrl(DM | PF, client)
            return
        self._reset_link()
        self._remember_addr(dlen)
        self.info_rx = min(tx_max, self.cap)
        self.info_tx = min(rx_max, self.cap)
        self.client = client
        self.connected = True
        self._t_frame = now
        self.event = CONNECTED
        # UA information field: format id 0x81, group id 0x80, group length, parameters (values
        # from the server's point of view: 05 = what we transmit, 06 = what we receive)
        tx = self.tx
        p = self._header(UA | PF, client, True)
        q = p + 3
        q = _param(tx, q, _MAX_INFO_TX, self.info_tx)
        q = _param(tx, q, _MAX_INFO_RX, self.info_rx)
        struct.pack_into(">BBI", tx, q, _WINDOW_TX, 4, 1)
        struct.pack_into(">BBI", tx, q + 6, _WINDOW_RX, 4, 1)
        q += 12
        tx[p] = 0x81
        tx[p + 1] = 0x80
        tx[p + 2] = q - p - 3
        self._finish(q, False)

    # ---- I-frames ----

    def _iframe(self, ctrl, seg, info, ilen):
        ns = (ctrl >> 1) & 7
        nr = ctrl >> 5
        if ns != self.vr:
            if ns == (self.vr - 1) & 7 and self._last:
                self._resend()  # the client did not get our answer: repeat it
            return
        if self._pend is not None:
            if nr != self.vs:
                return
            self._pend = None  # the client abandoned our segmented answer and sends anew
        self.vr = (self.vr + 1) & 7
        rxf = self.rxf
        p = info
        if self._rx_fill == 0 and not self._rx_over:
            # first segment: LLC header (Green Book 8.4.3: E6 E6 00 towards the server)
            if ilen < 3 or rxf[p] != 0xE6 or rxf[p + 1] != 0xE6 or rxf[p + 2] != 0x00:
                self._rx_over = True
            p += 3
            ilen -= 3
        if not self._rx_over:
            if self._rx_fill + ilen > len(self.apdu):
                self._rx_over = True
            else:
                self.apdu[self._rx_fill:self._rx_fill + ilen] = rxf[p:p + ilen]
                self._rx_fill += ilen
        if seg:
            self._send_ctrl(RR | PF | (self.vr << 5), self.client)
            self._last = RR | PF | (self.vr << 5)
            return
        if self._rx_over:
            # an APDU longer than we take (or without LLC header): drop it, answer RR so the
            # client is not left waiting for the poll to be returned
            self._rx_fill = 0
            self._rx_over = False
            self._send_ctrl(RR | PF | (self.vr << 5), self.client)
            return
        self.apdu_len = self._rx_fill
        self._rx_fill = 0
        self.event = APDU

    def send_apdu(self, mv, n):
        """Send mv[:n] (the APDU answering the last APDU event), segmented to the negotiated
        max info field; the first frame goes to self.tx now, the rest on the client's RRs. The
        owner keeps mv unchanged until the last segment is out."""
        if not self.connected:
            return
        self._pend = mv
        self._pend_pos = 0
        self._pend_len = n
        self.tx_len = 0
        self._send_segment()

    def send_ack(self):
        """No APDU answers the last one (an unconfirmed service): return the poll with RR."""
        if self.connected:
            self._send_ctrl(RR | PF | (self.vr << 5), self.client)
            self._last = RR | PF | (self.vr << 5)

    def _send_segment(self):
        first = self._pend_pos == 0
        room = self.info_tx - (3 if first else 0)
        k = min(room, self._pend_len - self._pend_pos)
        more = self._pend_pos + k < self._pend_len
        self._last = -1
        self._last_src = self._pend
        self._last_pos = self._pend_pos
        self._last_k = k
        self._last_ctrl = I_FRAME | PF | (self.vr << 5) | (self.vs << 1)
        self._last_more = more
        self._pend_pos += k
        if not more:
            self._pend = None
        self.vs = (self.vs + 1) & 7
        self._build_segment()

    def _build_segment(self):
        tx = self.tx
        pos = self._last_pos
        k = self._last_k
        p = self._header(self._last_ctrl, self.client, True)
        if pos == 0:
            tx[p] = 0xE6
            tx[p + 1] = 0xE7
            tx[p + 2] = 0
            p += 3
        tx[p:p + k] = self._last_src[pos:pos + k]
        self._finish(p + k, self._last_more)

    def _resend(self):
        if self._last == -1:
            self._build_segment()
        else:
            self._send_ctrl(self._last, self.client)

    def _frmr(self, ctrl):
        tx = self.tx
        p = self._header(FRMR | PF, self.client, True)
        tx[p] = ctrl
        tx[p + 1] = (self.vr << 5) | (self.vs << 1)
        tx[p + 2] = 0x01  # W: control field undefined or not implemented
        self._finish(p + 3, False)

    # ---- frame building ----

    def _header(self, ctrl, client, has_info):
        """Write flag, (placeholder) format, addresses and control; return the position after
        the control field (+2 for the HCS when has_info)."""
        tx = self.tx
        tx[0] = FLAG
        tx[3] = (client << 1) | 1
        al = self._addr_len
        for i in range(al):
            tx[4 + i] = self._addr[i]
        p = 4 + al
        tx[p] = ctrl
        self._has_info = has_info
        self._hdr_end = p + 1
        return p + 3 if has_info else p + 1

    def _finish(self, end, seg):
        """Fill in format, HCS, FCS and the closing flag; the frame is tx[:tx_len]."""
        tx = self.tx
        ln = end + 2 - 1  # bytes between the flags
        tx[1] = 0xA0 | (0x08 if seg else 0) | (ln >> 8)
        tx[2] = ln & 0xFF
        if self._has_info and end > self._hdr_end + 2:
            h = _fcs.fcs(tx, 1, self._hdr_end)
            tx[self._hdr_end] = h & 0xFF
            tx[self._hdr_end + 1] = h >> 8
        elif self._has_info:
            end = self._hdr_end  # no information after all: no HCS
            ln = end + 2 - 1
            tx[1] = 0xA0 | (ln >> 8)
            tx[2] = ln & 0xFF
        f = _fcs.fcs(tx, 1, end)
        tx[end] = f & 0xFF
        tx[end + 1] = f >> 8
        tx[end + 2] = FLAG
        self.tx_len = end + 3

    def _send_ctrl(self, ctrl, client):
        self._finish(self._header(ctrl, client, False), False)


def _param(buf, q, pid, v):
    if v < 0x100:
        buf[q] = pid
        buf[q + 1] = 1
        buf[q + 2] = v
        return q + 3
    buf[q] = pid
    buf[q + 1] = 2
    buf[q + 2] = v >> 8
    buf[q + 3] = v & 0xFF
    return q + 4
