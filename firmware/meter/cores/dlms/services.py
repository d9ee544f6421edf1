# xDLMS services with logical-name referencing (Green Book 9.3.6 - 9.3.9, IEC 62056-5-3):
# GET (normal, next data block, with-list), SET (normal, first data block, data block, with-list)
# and ACTION (normal), plus the block transfers they need, over the object registry.
#
# Requests (after the tag byte: C0 get, C1 set, C3 action):
#   get  01 iid descriptor sel?     02 iid block-number(u32)     03 iid count {descriptor sel?}*
#   set  01 iid descriptor sel? Data     02 iid descriptor sel? last block-number raw-data
#        03 iid last block-number raw-data     04 iid count {descriptor sel?}* count Data*
#   action 01 iid class(u16) ln(6) method(i8) (00 | 01 Data)
#   descriptor = class(u16) ln(6) attribute(i8); sel? = 00 | 01 selector(u8) Data
# Responses (C4 / C5 / C7): get 01 iid (00 Data | 01 dar), 02 iid last block-number (00 raw |
#   01 dar), 03 iid count (00 Data | 01 dar)*; set 01 iid result, 02 iid block-number,
#   03 iid result block-number, 05 iid count result*; action 01 iid result (00 | 01 (00 Data |
#   01 dar)).
# The invoke-id-and-priority byte is echoed. Result codes (objects.py):
#   unknown logical name / attribute / method, or an object the client cannot see
#                                          -> object-undefined
#   logical name known with another class  -> object-class-inconsistent
#   no right for this client (or the request was not authenticated for an AUTH_* right), or the
#   association is still pending HLS      -> read-write-denied
#   an access selector the attribute lacks -> scope-of-access-violated
#   a SET value that does not decode (truncated, too deep, too many items, unknown tag)
#                                          -> type-unmatched (the mapping's setter refines it)
#   next-block request with no GET in progress -> no-long-get-in-progress; with another invoke-id
#   -> long-get-aborted; with a wrong block number -> data-block-number-invalid (the transfer is
#   abandoned in both cases). SET blocks alike: no-long-set-in-progress, long-set-aborted,
#   data-block-number-invalid; a value longer than `max_set` -> other-reason.
#   an ACTION return value longer than one PDU -> other-reason (no pblock transfer).
# A value longer than the PDU the client accepts goes out in GET data blocks: a top-level array
# given as axdr.Rows (profile buffer, object list) is encoded row by row as the blocks go, any
# other value must fit the block FIFO (`block_fifo` bytes). A malformed request that cannot be
# answered in its own service raises Malformed (the server sends an exception-response).
from micropython import const
import struct

from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.dlms import actions as X
from meter.cores.dlms.association import CURRENT_LN, ASSOCIATED, PENDING

GET_REQUEST = const(0xC0)
SET_REQUEST = const(0xC1)
ACTION_REQUEST = const(0xC3)
GET_RESPONSE = const(0xC4)
SET_RESPONSE = const(0xC5)
ACTION_RESPONSE = const(0xC7)

MAX_LIST = const(32)


class Malformed(Exception):
    pass


class Unsupported(Exception):
    pass


class Streamer:
    """Bytes of one long value, produced piecewise into a FIFO as blocks are taken."""

    def __init__(self, size):
        self.fifo = bytearray(size)
        self.mv = memoryview(self.fifo)
        self.h = 0
        self.n = 0
        self.items = None
        self.count = 0
        self.i = 0
        self.is_list = False

    def start(self, value, is_list=False):
        """value: an axdr value (a top-level Rows array streams row by row) or, is_list, a list
        of results (int = data-access-result, else a value) of a GET with-list."""
        self.h = self.n = self.i = 0
        self.is_list = is_list
        if is_list:
            self.items = value
            self.count = len(value)
            self.n = axdr.write_length(self.fifo, 0, self.count)
        elif (value[0] == axdr.ARRAY or value[0] == axdr.STRUCTURE) and isinstance(value[1], axdr.Rows):
            self.items = value[1].item
            self.count = value[1].count
            self.fifo[0] = value[0]
            self.n = axdr.write_length(self.fifo, 1, self.count)
        else:
            self.items = None
            self.count = 0
            self.n = axdr.encode(self.fifo, 0, value)

    def more(self):
        return self.n > self.h or self.i < self.count

    def _compact(self):
        m = self.n - self.h
        if self.h:
            self.fifo[0:m] = self.mv[self.h:self.n]
        self.h = 0
        self.n = m

    def _next(self):
        i = self.i
        if self.is_list:
            r = self.items[i]
            if isinstance(r, int):
                if self.n + 2 > len(self.fifo):
                    raise axdr.AxdrError(axdr.OVERFLOW)
                self.fifo[self.n] = 1
                self.fifo[self.n + 1] = r
                self.n += 2
            else:
                if self.n + 1 > len(self.fifo):
                    raise axdr.AxdrError(axdr.OVERFLOW)
                self.fifo[self.n] = 0
                self.n = axdr.encode(self.fifo, self.n + 1, r)
        else:
            self.n = axdr.encode(self.fifo, self.n, self.items(i))
        self.i = i + 1

    def fill(self, dst, pos, k):
        """Copy up to k bytes of the stream to dst[pos:]; returns how many."""
        if self.n - self.h < k and self.i < self.count:
            self._compact()
            while self.n < k and self.i < self.count:
                n0 = self.n
                try:
                    self._next()
                except axdr.AxdrError as e:
                    # an item that does not fit behind what is queued waits for the next block
                    # (and is encoded again then); one that does not fit an empty FIFO is an error
                    if e.code != axdr.OVERFLOW or n0 == 0:
                        raise
                    self.n = n0
                    break
        take = min(k, self.n - self.h)
        dst[pos:pos + take] = self.mv[self.h:self.h + take]
        self.h += take
        return take


class Services:
    def __init__(self, registry, assoc, block_fifo=768, max_set=1024, max_items=axdr.MAX_ITEMS):
        self.registry = registry
        self.assoc = assoc
        self.max_items = max_items
        self.stream = Streamer(block_fifo)
        self.blk_iid = -1  # invoke-id of the GET block transfer in progress, -1 none
        self.blk_no = 0
        self.set_buf = bytearray(max_set)
        self.set_n = -1  # bytes of the SET block transfer in progress, -1 none
        self.set_iid = 0
        self.set_no = 0
        self.set_desc = None
        self.authenticated = False  # the current request arrived authenticated (set by server)

    def reset(self):
        self.blk_iid = -1
        self.set_n = -1
        self.set_desc = None

    # ---- lookup and access ----

    def _obj(self, cls, ln):
        a = self.assoc
        if ln == CURRENT_LN:
            ob = a.obj
        else:
            ob = self.registry.find(ln)
            if ob is None or not ob.visible(a.sap):
                return O.OBJECT_UNDEFINED
        if ob.class_id != cls:
            return O.OBJECT_CLASS_INCONSISTENT
        return ob

    def _pending_denied(self, ob, mid=0):
        # HLS pending: only reply_to_HLS_authentication on the current association
        return self.assoc.status != ASSOCIATED and not (ob is self.assoc.obj and mid == 1)

    def read(self, cls, ln, aid, sel, params):
        """-> an axdr value, or an int data-access-result."""
        ob = self._obj(cls, ln)
        if isinstance(ob, int):
            return ob
        if self._pending_denied(ob):
            return O.READ_WRITE_DENIED
        if aid == 1 and not sel:
            return (axdr.OCTET_STRING, ob.ln)
        a = ob.attrs.get(aid)
        if a is None:
            return O.OBJECT_UNDEFINED
        if not O.can_read(a.rights.get(self.assoc.sap, 0), self.authenticated) or a.get is None:
            return O.READ_WRITE_DENIED
        try:
            if sel:
                if sel not in a.selectors:
                    return O.SCOPE_OF_ACCESS_VIOLATED
                return a.get(sel, params)
            if a.selectors:
                return a.get(0, None)
            return a.get()
        except O.DataAccessError as e:
            return e.code

    def _write_check(self, cls, ln, aid):
        """-> (attr, None) or (None, dar)."""
        ob = self._obj(cls, ln)
        if isinstance(ob, int):
            return None, ob
        if self._pending_denied(ob):
            return None, O.READ_WRITE_DENIED
        a = ob.attrs.get(aid)
        if a is None:
            return None, O.OBJECT_UNDEFINED if aid != 1 else O.READ_WRITE_DENIED
        if not O.can_write(a.rights.get(self.assoc.sap, 0), self.authenticated) or a.set is None:
            return None, O.READ_WRITE_DENIED
        return a, None

    def write(self, cls, ln, aid, sel, params, value, actions):
        a, err = self._write_check(cls, ln, aid)
        if err is not None:
            return err
        if sel:
            return O.SCOPE_OF_ACCESS_VIOLATED
        try:
            a.set(value)
        except O.DataAccessError as e:
            return e.code
        actions.append((X.EVENT, X.EV_WRITE, cls, bytes(ln) + bytes((aid & 0xFF,))))
        return O.SUCCESS

    # ---- request parsing ----

    def _desc(self, req, p, end, sel=True):
        """descriptor [+ access selection] -> (cls, ln, id, selector, params, new pos)."""
        if p + 9 > end:
            raise Malformed()
        cls = (req[p] << 8) | req[p + 1]
        ln = bytes(req[p + 2:p + 8])
        aid = req[p + 8]
        if aid > 127:
            aid -= 256
        p += 9
        selector, params = 0, None
        if sel:
            if p >= end:
                raise Malformed()
            if req[p]:
                if p + 2 > end:
                    raise Malformed()
                selector = req[p + 1]
                try:
                    params, p = axdr.decode(req, p + 2, end, self.max_items)
                except axdr.AxdrError:
                    raise Malformed()
                if selector == 0:
                    raise Malformed()
            else:
                p += 1
        return cls, ln, aid, selector, params, p

    def _desc_list(self, req, p, end):
        """count, then that many descriptors with access selection -> (n, pos, list)."""
        try:
            n, q = axdr.read_length(req, p, end)
        except axdr.AxdrError:
            raise Malformed()
        if n == 0 or n > MAX_LIST:
            raise Malformed()
        descs = []
        for _ in range(n):
            d = self._desc(req, q, end)
            q = d[5]
            descs.append(d)
        return n, q, descs

    # ---- GET ----

    def get(self, req, p, end, out, o, lim):
        """req[p] is the request type after C0. Writes the response at out[o:lim]; returns its
        end."""
        if p + 2 > end:
            raise Malformed()
        typ, iid = req[p], req[p + 1]
        out[o] = GET_RESPONSE
        out[o + 2] = iid
        if typ == 1:
            cls, ln, aid, sel, params, q = self._desc(req, p + 2, end)
            if q != end:
                raise Malformed()
            self.blk_iid = -1
            r = self.read(cls, ln, aid, sel, params)
            out[o + 1] = 1
            if isinstance(r, int):
                out[o + 3] = 1
                out[o + 4] = r
                return o + 5
            out[o + 3] = 0
            try:
                return axdr.encode(memoryview(out)[:lim], o + 4, r)
            except axdr.AxdrError as e:
                if e.code != axdr.OVERFLOW:
                    out[o + 3] = 1
                    out[o + 4] = O.OTHER_REASON
                    return o + 5
            return self._first_block(r, False, iid, out, o, lim)
        if typ == 2:
            if p + 6 != end:
                raise Malformed()
            no = struct.unpack_from(">I", req, p + 2)[0]
            if self.blk_iid < 0:
                return self._block_error(O.NO_LONG_GET_IN_PROGRESS, no, out, o)
            if (iid & 0x0F) != (self.blk_iid & 0x0F):
                return self._block_error(O.LONG_GET_ABORTED, no, out, o)
            if no != self.blk_no:
                return self._block_error(O.DATA_BLOCK_NUMBER_INVALID, no, out, o)
            return self._block(out, o, lim)
        if typ == 3:
            n, q, descs = self._desc_list(req, p + 2, end)
            if q != end:
                raise Malformed()
            self.blk_iid = -1
            results = [self.read(d[0], d[1], d[2], d[3], d[4]) for d in descs]
            out[o + 1] = 3
            try:
                e = axdr.write_length(out, o + 3, n)
                lm = memoryview(out)[:lim]
                for r in results:
                    if isinstance(r, int):
                        if e + 2 > lim:
                            raise axdr.AxdrError(axdr.OVERFLOW)
                        out[e] = 1
                        out[e + 1] = r
                        e += 2
                    else:
                        if e + 1 > lim:
                            raise axdr.AxdrError(axdr.OVERFLOW)
                        out[e] = 0
                        try:
                            e = axdr.encode(lm, e + 1, r)
                        except axdr.AxdrError as x:
                            if x.code == axdr.OVERFLOW:
                                raise
                            out[e] = 1
                            out[e + 1] = O.OTHER_REASON
                            e += 2
                return e
            except axdr.AxdrError:
                pass
            return self._first_block(results, True, iid, out, o, lim)
        raise Unsupported()

    def _first_block(self, value, is_list, iid, out, o, lim):
        try:
            self.stream.start(value, is_list)
        except axdr.AxdrError:
            self.blk_iid = -1
            out[o + 1] = 1
            out[o + 3] = 1
            out[o + 4] = O.OTHER_REASON
            return o + 5
        self.blk_iid = iid
        self.blk_no = 0
        return self._block(out, o, lim)

    def _block(self, out, o, lim):
        """get-response-with-datablock: C4 02 iid last block-number(u32) 00 length raw."""
        self.blk_no += 1
        room = lim - o - 9 - 3
        lsz = axdr.length_size(room)
        d = o + 9 + lsz
        try:
            n = self.stream.fill(out, d, room)
        except (axdr.AxdrError, O.DataAccessError) as e:
            code = e.code if isinstance(e, O.DataAccessError) else O.OTHER_REASON
            return self._block_error(code, self.blk_no, out, o)
        last = not self.stream.more()
        out[o + 1] = 2
        out[o + 3] = 1 if last else 0
        struct.pack_into(">I", out, o + 4, self.blk_no)
        out[o + 8] = 0
        real = axdr.length_size(n)
        if real != lsz:  # the last, shorter block: close the gap left for a longer length
            out[o + 9 + real:o + 9 + real + n] = memoryview(out)[d:d + n]
            d = o + 9 + real
        axdr.write_length(out, o + 9, n)
        if last:
            self.blk_iid = -1
        return o + 9 + real + n

    def _block_error(self, code, no, out, o):
        self.blk_iid = -1
        out[o + 1] = 2
        out[o + 3] = 1
        struct.pack_into(">I", out, o + 4, no)
        out[o + 8] = 1
        out[o + 9] = code
        return o + 10

    # ---- SET ----

    def set(self, req, p, end, out, o, lim, actions):
        if p + 2 > end:
            raise Malformed()
        typ, iid = req[p], req[p + 1]
        out[o] = SET_RESPONSE
        out[o + 2] = iid
        if typ == 1:
            cls, ln, aid, sel, params, q = self._desc(req, p + 2, end)
            self.set_n = -1
            try:
                value = axdr.decode_all(req, q, end, self.max_items)
            except axdr.AxdrError:
                r = O.TYPE_UNMATCHED
            else:
                r = self.write(cls, ln, aid, sel, params, value, actions)
            out[o + 1] = 1
            out[o + 3] = r
            return o + 4
        if typ == 2:
            d = self._desc(req, p + 2, end)
            self.set_n = -1
            last, no, s, n = self._raw(req, d[5], end)
            if d[3]:
                return self._set_last(iid, O.SCOPE_OF_ACCESS_VIOLATED, no, out, o)
            a, err = self._write_check(d[0], d[1], d[2])
            if err is not None:
                return self._set_last(iid, err, no, out, o)
            if no != 1:
                return self._set_last(iid, O.DATA_BLOCK_NUMBER_INVALID, no, out, o)
            self.set_desc = d
            self.set_iid = iid
            self.set_n = 0
            self.set_no = 0
            return self._set_block(iid, last, no, req, s, n, out, o, actions)
        if typ == 3:
            last, no, s, n = self._raw(req, p + 2, end)
            if self.set_n < 0:
                return self._set_last(iid, O.NO_LONG_SET_IN_PROGRESS, no, out, o)
            if (iid & 0x0F) != (self.set_iid & 0x0F):
                self.set_n = -1
                return self._set_last(iid, O.LONG_SET_ABORTED, no, out, o)
            return self._set_block(iid, last, no, req, s, n, out, o, actions)
        if typ == 4:
            n, q, descs = self._desc_list(req, p + 2, end)
            try:
                m, q = axdr.read_length(req, q, end)
                if m != n:
                    raise Malformed()
                values = []
                for _ in range(n):
                    v, q = axdr.decode(req, q, end, self.max_items)
                    values.append(v)
                if q != end:
                    raise Malformed()
            except axdr.AxdrError:
                values = None
            self.set_n = -1
            out[o + 1] = 5
            e = axdr.write_length(out, o + 3, n)
            for i in range(n):
                d = descs[i]
                if values is None:
                    r = O.TYPE_UNMATCHED
                else:
                    r = self.write(d[0], d[1], d[2], d[3], d[4], values[i], actions)
                out[e] = r
                e += 1
            return e
        raise Unsupported()

    def _raw(self, req, p, end):
        """DataBlock-SA: last(bool) block-number(u32) raw-data(octet string)."""
        if p + 6 > end:
            raise Malformed()
        last = req[p] != 0
        no = struct.unpack_from(">I", req, p + 1)[0]
        try:
            n, q = axdr.read_length(req, p + 5, end)
        except axdr.AxdrError:
            raise Malformed()
        if q + n != end:
            raise Malformed()
        return last, no, q, n

    def _set_block(self, iid, last, no, req, s, n, out, o, actions):
        if no != self.set_no + 1:
            self.set_n = -1
            return self._set_last(iid, O.DATA_BLOCK_NUMBER_INVALID, no, out, o)
        if self.set_n + n > len(self.set_buf):
            self.set_n = -1
            return self._set_last(iid, O.OTHER_REASON, no, out, o)
        self.set_buf[self.set_n:self.set_n + n] = req[s:s + n]
        self.set_n += n
        self.set_no = no
        if not last:
            out[o + 1] = 2
            struct.pack_into(">I", out, o + 3, no)
            return o + 7
        d = self.set_desc
        total = self.set_n
        self.set_n = -1
        try:
            value = axdr.decode_all(self.set_buf, 0, total, self.max_items)
        except axdr.AxdrError:
            r = O.TYPE_UNMATCHED
        else:
            r = self.write(d[0], d[1], d[2], 0, None, value, actions)
        return self._set_last(iid, r, no, out, o)

    def _set_last(self, iid, r, no, out, o):
        out[o + 1] = 3
        out[o + 3] = r
        struct.pack_into(">I", out, o + 4, no)
        return o + 8

    # ---- ACTION ----

    def action(self, req, p, end, out, o, lim, actions):
        if p + 2 > end:
            raise Malformed()
        typ, iid = req[p], req[p + 1]
        if typ != 1:
            raise Unsupported()
        cls, ln, mid, _, _, q = self._desc(req, p + 2, end, False)
        if q >= end:
            raise Malformed()
        params = None
        if req[q]:
            try:
                params = axdr.decode_all(req, q + 1, end, self.max_items)
                bad = False
            except axdr.AxdrError:
                bad = True
        else:
            bad = q + 1 != end
        out[o] = ACTION_RESPONSE
        out[o + 1] = 1
        out[o + 2] = iid
        ret = None
        if bad:
            r = O.TYPE_UNMATCHED
        else:
            r, ret = self._call(cls, ln, mid, params, actions)
        out[o + 3] = r
        if ret is None:
            out[o + 4] = 0
            return o + 5
        out[o + 4] = 1
        out[o + 5] = 0
        try:
            return axdr.encode(memoryview(out)[:lim], o + 6, ret)
        except axdr.AxdrError:
            out[o + 3] = O.OTHER_REASON
            out[o + 4] = 0
            return o + 5

    def _call(self, cls, ln, mid, params, actions):
        ob = self._obj(cls, ln)
        if isinstance(ob, int):
            return ob, None
        if self._pending_denied(ob, mid):
            return O.READ_WRITE_DENIED, None
        m = ob.methods.get(mid)
        if m is None:
            return O.OBJECT_UNDEFINED, None
        if not O.can_call(m.rights.get(self.assoc.sap, 0), self.authenticated):
            return O.READ_WRITE_DENIED, None
        try:
            ret = m.act(params, self.assoc) if m.ctx else m.act(params)
        except O.DataAccessError as e:
            return e.code, None
        actions.append((X.EVENT, X.EV_ACTION, cls, bytes(ln) + bytes((mid & 0xFF,))))
        return O.SUCCESS, ret
