# Profile generic (class 7, v1; Blue Book 4.3.6): the buffer with selective access by range
# (selector 1, range_descriptor) and by entry (selector 2, entry_descriptor), streamed lazily.
#
# The mapping supplies a source (it owns the stored entries):
#   source.count() -> entries in use;   source.row(i) -> the entry i (0 = oldest) as a sequence
#   of axdr values, one per capture object;   optional source.capacity() -> profile_entries;
#   optional source.select_range(col, lo, hi) -> (first, end) indexes of the entries whose
#   column col lies in [lo, hi] (lo/hi: the decoded from_value/to_value). Without it the helper
#   bisects, assuming the column ascends with the index (a FIFO profile sorted by its time
#   stamp) and comparing date-times field by field (year .. second; the deviation is ignored:
#   the profile and the request are taken to use the same time base) or integers by value.
# Selectors (Blue Book 4.3.6.2):
#   range_descriptor: structure{restricting_object capture_object_definition, from_value,
#     to_value, selected_values array of capture_object_definition (empty = all columns)}
#   entry_descriptor: structure{from_entry, to_entry (0 = newest) double-long-unsigned,
#     from_selected_value, to_selected_value (0 = last) long-unsigned}; 1-based.
# A restricting object or selected value that is not a capture object -> OBJECT_UNAVAILABLE; a
# descriptor of the wrong shape -> TYPE_UNMATCHED; a range or entries beyond the buffer -> an
# empty array (not an error).
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O


def _const(v):
    def get():
        return v
    return get


class ProfileBuffer:
    def __init__(self, source, capture_objects):
        self.source = source
        self.defs = capture_objects  # list of (class_id, ln bytes, attr, data_index)

    def get(self, sel, params):
        src = self.source
        n = src.count()
        first, end = 0, n
        cols = None
        if sel == 1:
            first, end, cols = self._range(params, n)
        elif sel == 2:
            first, end, cols = self._entries(params, n)
        elif sel != 0:
            raise O.DataAccessError(O.SCOPE_OF_ACCESS_VIOLATED)
        if end < first:
            end = first
        row = src.row

        if cols is None:
            def item(i):
                return (axdr.STRUCTURE, row(first + i))
        else:
            def item(i):
                r = row(first + i)
                return (axdr.STRUCTURE, [r[c] for c in cols])
        return (axdr.ARRAY, axdr.Rows(end - first, item))

    def _col(self, d):
        """Column index of a capture_object_definition value, or raise."""
        f = _fields(d, 4)
        key = (f[0][1], f[1][1], f[2][1])
        for i, c in enumerate(self.defs):
            if (c[0], c[1], c[2]) == key and (f[3][1] == 0 or c[3] == f[3][1]):
                return i
        raise O.DataAccessError(O.OBJECT_UNAVAILABLE)

    def _range(self, params, n):
        f = _fields(params, 4)
        col = self._col(f[0])
        lo, hi = f[1], f[2]
        sv = f[3]
        if sv[0] != axdr.ARRAY:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        cols = [self._col(d) for d in sv[1]] or None
        sr = getattr(self.source, "select_range", None)
        if sr is not None:
            first, end = sr(col, lo, hi)
        else:
            klo, khi = _key(lo), _key(hi)
            row = self.source.row
            first = _bisect(n, lambda i: _key(row(i)[col]) < klo)
            end = _bisect(n, lambda i: _key(row(i)[col]) <= khi)
        return first, end, cols

    def _entries(self, params, n):
        f = _fields(params, 4)
        fe, te, fs, ts = f[0][1], f[1][1], f[2][1], f[3][1]
        if not all(isinstance(x, int) for x in (fe, te, fs, ts)):
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        first = max(fe, 1) - 1
        end = n if te == 0 else min(te, n)
        ncol = len(self.defs)
        if fs <= 1 and (ts == 0 or ts >= ncol):
            cols = None
        else:
            lo = max(fs, 1) - 1
            hi = ncol if ts == 0 else min(ts, ncol)
            cols = list(range(lo, hi))
        return min(first, n), end, cols


def _fields(v, n):
    if not isinstance(v, tuple) or v[0] != axdr.STRUCTURE or len(v[1]) != n:
        raise O.DataAccessError(O.TYPE_UNMATCHED)
    return v[1]


def _key(v):
    tag, x = v
    if (tag == axdr.OCTET_STRING or tag == axdr.DATE_TIME) and len(x) == 12:
        return ((x[0] << 8) | x[1], x[2], x[3], x[5], x[6], x[7])
    if isinstance(x, int) and tag != axdr.BOOLEAN:
        return (x,)
    raise O.DataAccessError(O.TYPE_UNMATCHED)


def _bisect(n, below):
    """First index i in [0, n] with below(i) False (below is True on a prefix)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if below(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def profile_generic(ln, source, capture_objects, capture_period, rights, reset=None, capture=None,
                    method_rights=None):
    """Profile generic (class 7, v1): 2 buffer (selectors 1, 2), 3 capture_objects,
    4 capture_period (s), 5 sort_method (1 fifo), 6 sort_object (none), 7 entries_in_use,
    8 profile_entries; methods 1 reset, 2 capture (when given)."""
    pb = ProfileBuffer(source, capture_objects)
    ro = O.read_only(rights)
    cap = getattr(source, "capacity", source.count)
    attrs = {  # capture_objects and sort_object encoded on each read: not kept (small heaps)
        2: O.Attr(pb.get, None, ro, (1, 2)),
        3: O.Attr(lambda: (axdr.ARRAY, [O.capture_object(c, l, a, d) for c, l, a, d in capture_objects]),
                  None, ro),
        4: O.Attr(_const((axdr.DOUBLE_LONG_UNSIGNED, capture_period)), None, ro),
        5: O.Attr(_const((axdr.ENUM, 1)), None, ro),
        6: O.Attr(lambda: O.capture_object(0, b"\x00\x00\x00\x00\x00\x00", 0, 0), None, ro),
        7: O.Attr(lambda: (axdr.DOUBLE_LONG_UNSIGNED, source.count()), None, ro),
        8: O.Attr(lambda: (axdr.DOUBLE_LONG_UNSIGNED, cap()), None, ro),
    }
    methods = {}
    if reset is not None:
        methods[1] = O.Method(reset, method_rights or {})
    if capture is not None:
        methods[2] = O.Method(capture, method_rights or {})
    return O.CosemObject(O.PROFILE_GENERIC, 1, ln, attrs, methods)
