# The COSEM object model registry (IEC 62056-6-2 / Blue Book 4.1): what a client can address.
#
# The registry holds no meter state. Each object is its class id, version, logical name (6 bytes)
# and, per attribute and method, the access rights per client SAP and the callables supplied by
# the mapping (the service layer) that read, write or invoke the meter's own state:
#   getter: get() -> value, or get(selector, params) for an attribute with access selectors
#   setter: set(value) -> None
#   method: act(params) -> None or a return value (params is the decoded Data, or None)
# values are axdr tuples (axdr.py). A callable refuses with `raise DataAccessError(code)` (a
# data-access-result / action-result code below); any other exception is a bug and propagates.
#
# Attribute 1 (logical_name) is implicit: readable by every client that can see the object (has
# some right on it). Access modes (Blue Book 4.4.4 Association LN, attribute_access_item):
#   attributes: NO_ACCESS, READ, WRITE, READ_WRITE, AUTH_READ, AUTH_WRITE, AUTH_READ_WRITE
#   methods: M_NONE, M_ACCESS, M_AUTH_ACCESS
# The AUTH_* modes grant access only to requests that arrived authenticated (glo-ciphered with
# the authentication bit). Rights are dicts {client_sap: mode}; share one dict between objects.
from micropython import const

from meter.cores.dlms import axdr

# data-access-result (Green Book 9.3, Data-Access-Result) and action-result codes
SUCCESS = const(0)
HARDWARE_FAULT = const(1)
TEMPORARY_FAILURE = const(2)
READ_WRITE_DENIED = const(3)
OBJECT_UNDEFINED = const(4)
OBJECT_CLASS_INCONSISTENT = const(9)
OBJECT_UNAVAILABLE = const(11)
TYPE_UNMATCHED = const(12)
SCOPE_OF_ACCESS_VIOLATED = const(13)
DATA_BLOCK_UNAVAILABLE = const(14)
LONG_GET_ABORTED = const(15)
NO_LONG_GET_IN_PROGRESS = const(16)
LONG_SET_ABORTED = const(17)
NO_LONG_SET_IN_PROGRESS = const(18)
DATA_BLOCK_NUMBER_INVALID = const(19)
OTHER_REASON = const(250)

NO_ACCESS = const(0)
READ = const(1)
WRITE = const(2)
READ_WRITE = const(3)
AUTH_READ = const(4)
AUTH_WRITE = const(5)
AUTH_READ_WRITE = const(6)
M_NONE = const(0)
M_ACCESS = const(1)
M_AUTH_ACCESS = const(2)

# interface classes used here
DATA = const(1)
REGISTER = const(3)
EXTENDED_REGISTER = const(4)
PROFILE_GENERIC = const(7)
CLOCK = const(8)
ASSOCIATION_LN = const(15)
SAP_ASSIGNMENT = const(17)
SECURITY_SETUP = const(64)
DISCONNECT_CONTROL = const(70)


class DataAccessError(Exception):
    """Raised by a getter/setter/method to refuse with a data-access-result/action-result code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Attr:
    __slots__ = ("get", "set", "rights", "selectors")

    def __init__(self, get=None, set=None, rights=None, selectors=()):
        self.get = get
        self.set = set
        self.rights = rights or {}
        self.selectors = selectors  # access selectors supported (e.g. (1, 2) for a profile)


class Method:
    """act(params); with ctx=True (core-provided objects only) act(params, assoc): the current
    association, whose pending_actions list takes actions such as NEW_KEY."""
    __slots__ = ("act", "rights", "ctx")

    def __init__(self, act, rights, ctx=False):
        self.act = act
        self.rights = rights
        self.ctx = ctx


class CosemObject:
    __slots__ = ("class_id", "version", "ln", "attrs", "methods")

    def __init__(self, class_id, version, ln, attrs, methods=None):
        if len(ln) != 6:
            raise ValueError("logical name")
        self.class_id = class_id
        self.version = version
        self.ln = bytes(ln)
        self.attrs = attrs  # {attribute id (>= 2): Attr}
        self.methods = methods or {}  # {method id: Method}

    def visible(self, sap):
        for a in self.attrs.values():
            if a.rights.get(sap, 0):
                return True
        for m in self.methods.values():
            if m.rights.get(sap, 0):
                return True
        return False

    def attr_mode(self, sap, aid):
        if aid == 1:
            return READ if self.visible(sap) else NO_ACCESS
        a = self.attrs.get(aid)
        return a.rights.get(sap, 0) if a is not None else NO_ACCESS


def can_read(mode, authenticated):
    return mode == READ or mode == READ_WRITE or (authenticated and (mode == AUTH_READ or
                                                                      mode == AUTH_READ_WRITE))


def can_write(mode, authenticated):
    return mode == WRITE or mode == READ_WRITE or (authenticated and (mode == AUTH_WRITE or
                                                                       mode == AUTH_READ_WRITE))


def can_call(mode, authenticated):
    return mode == M_ACCESS or (authenticated and mode == M_AUTH_ACCESS)


class ObjectTable:
    """A run of objects kept as a table, not as objects: lns holds 6 bytes per entry and make(i)
    builds entry i's CosemObject on access (dropped after the request). A meter has one Register
    per OBIS code (a hundred or more): as objects they do not fit a small heap. Every entry has
    the same visibility (rights: {client_sap: mode} of its attributes)."""
    __slots__ = ("lns", "make", "rights")

    def __init__(self, lns, make, rights):
        self.lns = lns
        self.make = make
        self.rights = rights

    def __len__(self):
        return len(self.lns) // 6

    def index(self, ln):
        """-> entry index of logical name ln, or -1."""
        lns = self.lns
        i = lns.find(ln)
        while i > 0 and i % 6:  # a match across two names
            i = lns.find(ln, i + 1)
        return i // 6 if i >= 0 else -1

    def visible(self, sap):
        return self.rights.get(sap, 0) != NO_ACCESS


class Registry:
    """Objects by logical name; insertion order is the object_list order. An ObjectTable added
    with add_table takes its place in that order with all its entries."""

    def __init__(self):
        self.by_ln = {}
        self.order = []
        self.tables = []

    def add(self, obj):
        if obj.ln in self.by_ln or self._table_of(obj.ln) is not None:
            raise ValueError("duplicate logical name")
        self.by_ln[obj.ln] = obj
        self.order.append(obj)
        return obj

    def add_table(self, table):
        self.tables.append(table)
        self.order.append(table)
        return table

    def _table_of(self, ln):
        for t in self.tables:
            i = t.index(ln)
            if i >= 0:
                return t, i
        return None

    def find(self, ln):
        ln = bytes(ln)
        ob = self.by_ln.get(ln)
        if ob is None:
            ti = self._table_of(ln)
            if ti is not None:
                return ti[0].make(ti[1])
        return ob


def obis(a, b, c, d, e, f=255):
    return bytes((a, b, c, d, e, f))


# ---- constructors for the generic classes (Blue Book 4.3 / 4.4 / 4.5) ----

def const_getter(value):
    def get():
        return value
    return get


def data(ln, get, rights, set=None):
    """Data (class 1, v0): attribute 2 value."""
    return CosemObject(DATA, 0, ln, {2: Attr(get, set, rights)})


def register(ln, get, scaler, unit, rights, reset=None, reset_rights=None):
    """Register (class 3, v0): 2 value, 3 scaler_unit {integer scaler, enum unit};
    method 1 reset(data)."""
    su = (axdr.STRUCTURE, ((axdr.INTEGER, scaler), (axdr.ENUM, unit)))
    ro = read_only(rights)
    methods = {1: Method(reset, reset_rights)} if reset is not None else None
    return CosemObject(REGISTER, 0, ln, {2: Attr(get, None, rights), 3: Attr(const_getter(su), None, ro)},
                       methods)


def extended_register(ln, get, scaler, unit, status_get, capture_time_get, rights):
    """Extended register (class 4, v0): 2 value, 3 scaler_unit, 4 status, 5 capture_time."""
    su = (axdr.STRUCTURE, ((axdr.INTEGER, scaler), (axdr.ENUM, unit)))
    ro = read_only(rights)
    return CosemObject(EXTENDED_REGISTER, 0, ln, {
        2: Attr(get, None, ro), 3: Attr(const_getter(su), None, ro), 4: Attr(status_get, None, ro),
        5: Attr(capture_time_get, None, ro)})


def read_only(rights):
    """The read part of rights; rights itself when it grants no write (no copy: small heaps)."""
    ro = None
    for k, v in rights.items():
        r = READ if v in (READ, READ_WRITE) else (AUTH_READ if v else NO_ACCESS)
        if r != v and ro is None:
            ro = dict(rights)
        if ro is not None:
            ro[k] = r
    return rights if ro is None else ro


def clock(ln, get_time, set_time, rights, time_zone=0, get_status=None, dst_begin=None,
          dst_end=None, dst_deviation=60, dst_enabled=True, clock_base=1, time_rights=None,
          methods=None):
    """Clock (class 8, v0): 2 time (date-time octet-string, settable through set_time),
    3 time_zone (long, minutes), 4 status (unsigned), 5/6 daylight_savings_begin/end
    (octet-string 12), 7 daylight_savings_deviation (integer), 8 daylight_savings_enabled
    (boolean), 9 clock_base (enum: 1 internal crystal)."""
    ro = read_only(rights)
    unspec = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff"
    attrs = {
        2: Attr(get_time, set_time, time_rights or rights),
        3: Attr(const_getter((axdr.LONG, time_zone)), None, ro),
        4: Attr(get_status or const_getter((axdr.UNSIGNED, 0)), None, ro),
        5: Attr(const_getter((axdr.OCTET_STRING, dst_begin or unspec)), None, ro),
        6: Attr(const_getter((axdr.OCTET_STRING, dst_end or unspec)), None, ro),
        7: Attr(const_getter((axdr.INTEGER, dst_deviation)), None, ro),
        8: Attr(const_getter((axdr.BOOLEAN, dst_enabled)), None, ro),
        9: Attr(const_getter((axdr.ENUM, clock_base)), None, ro),
    }
    return CosemObject(CLOCK, 0, ln, attrs, methods)


def sap_assignment(ln, saps, rights):
    """SAP assignment (class 17, v0): 2 SAP_assignment_list = array of {long-unsigned SAP,
    octet-string logical_device_name}; saps is a sequence of (sap, name bytes)."""
    lst = (axdr.ARRAY, [(axdr.STRUCTURE, ((axdr.LONG_UNSIGNED, s), (axdr.OCTET_STRING, n)))
                        for s, n in saps])
    return CosemObject(SAP_ASSIGNMENT, 0, ln, {2: Attr(const_getter(lst), None, rights)})


def capture_object(class_id, ln, attr, data_index=0):
    return (axdr.STRUCTURE, ((axdr.LONG_UNSIGNED, class_id), (axdr.OCTET_STRING, ln),
                             (axdr.INTEGER, attr), (axdr.LONG_UNSIGNED, data_index)))
