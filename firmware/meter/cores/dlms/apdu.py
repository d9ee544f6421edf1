# ACSE APDUs (BER, Green Book 9.4.2 / IEC 62056-5-3 clause 8) and the xDLMS InitiateRequest /
# InitiateResponse carried in their user-information, for logical-name referencing.
#
# AARQ [APPLICATION 0] 0x60: A1 application-context-name (OID 2.16.756.5.8.1.x: 1 = LN no
#   ciphering, 3 = LN with ciphering), A6 calling-AP-title (04 len system title), 8A
#   sender-acse-requirements, 8B mechanism-name (implicit OID 2.16.756.5.8.2.x: 0 lowest, 1 LLS,
#   5 HLS-GMAC), AC calling-authentication-value (80 len value), BE user-information (04 len
#   InitiateRequest or glo-initiate-request). Other fields are skipped.
# AARE [APPLICATION 1] 0x61: A1 context, A2 result (02 01 r: 0 accepted, 1 rejected-permanent,
#   2 rejected-transient), A3 result-source-diagnostic (A1 = acse-service-user / A2 =
#   acse-service-provider, 02 01 d), A4 responding-AP-title, 88 responder-acse-requirements,
#   89 mechanism-name, AA responding-authentication-value, BE user-information.
# InitiateRequest (0x01): dedicated-key (00 | 01 len key), response-allowed (00 | 01 bool),
#   proposed-quality-of-service (00 | 01 int8), proposed-dlms-version-number (u8),
#   proposed-conformance (5F 1F 04 00 + 3 bytes), client-max-receive-pdu-size (u16).
# InitiateResponse (0x08): negotiated-quality-of-service (00), negotiated-dlms-version-number 6,
#   negotiated-conformance, server-max-receive-pdu-size, vaa-name 0x0007 (LN).
# Conformance is a 24-bit int, bit 0 of the standard's numbering = 0x800000.
from micropython import const
import struct

from meter.cores.dlms.axdr import read_length, AxdrError

AARQ = const(0x60)
AARE = const(0x61)
RLRQ = const(0x62)
RLRE = const(0x63)
INITIATE_REQUEST = const(0x01)
INITIATE_RESPONSE = const(0x08)
GLO_INITIATE_REQUEST = const(0x21)
GLO_INITIATE_RESPONSE = const(0x28)
CONFIRMED_SERVICE_ERROR = const(0x0E)

CTX_LN = const(1)
CTX_LN_CIPHERED = const(3)

MECH_LOWEST = const(0)
MECH_LLS = const(1)
MECH_GMAC = const(5)

# AARE result
ACCEPTED = const(0)
REJECTED_PERMANENT = const(1)
REJECTED_TRANSIENT = const(2)
# acse-service-user diagnostics
DIAG_NULL = const(0)
DIAG_NO_REASON = const(1)
DIAG_CONTEXT_NOT_SUPPORTED = const(2)
DIAG_CALLING_AP_TITLE = const(3)
DIAG_MECH_NOT_RECOGNISED = const(11)
DIAG_MECH_REQUIRED = const(12)
DIAG_AUTH_FAILURE = const(13)
DIAG_AUTH_REQUIRED = const(14)

# initiate ServiceError values (confirmed-service-error, initiate [6])
INIT_OTHER = const(0)
INIT_DLMS_VERSION_TOO_LOW = const(1)
INIT_INCOMPATIBLE_CONFORMANCE = const(2)
INIT_PDU_SIZE_TOO_SHORT = const(3)

# conformance bits (Green Book 9.4.6.1)
CONF_BLOCK_GET = const(0x001000)
CONF_BLOCK_SET = const(0x000800)
CONF_MULTIPLE_REFS = const(0x000200)
CONF_GET = const(0x000010)
CONF_SET = const(0x000008)
CONF_SELECTIVE = const(0x000004)
CONF_ACTION = const(0x000001)

_OID_CTX = b"\x60\x85\x74\x05\x08\x01"
_OID_MECH = b"\x60\x85\x74\x05\x08\x02"

# ApduError codes
MALFORMED = const(1)


class ApduError(Exception):
    def __init__(self, code=MALFORMED):
        super().__init__(code)
        self.code = code


class Aarq:
    __slots__ = ("context", "mech", "title", "auth", "ui_start", "ui_len")

    def __init__(self):
        self.context = -1  # -1 absent, -2 not a DLMS context OID
        self.mech = -1  # -1 absent, -2 not a DLMS mechanism OID
        self.title = None
        self.auth = None
        self.ui_start = 0
        self.ui_len = 0


def _tlv(buf, pos, end):
    """-> (tag, content start, content end) of the TLV at pos."""
    if pos >= end:
        raise ApduError()
    tag = buf[pos]
    try:
        n, p = read_length(buf, pos + 1, end)
    except AxdrError:
        raise ApduError()
    if n > end - p:
        raise ApduError()
    return tag, p, p + n


def parse_aarq(buf, pos, end):
    tag, p, e = _tlv(buf, pos, end)
    if tag != AARQ:
        raise ApduError()
    a = Aarq()
    while p < e:
        t, s, q = _tlv(buf, p, e)
        if t == 0xA1:
            t2, s2, q2 = _tlv(buf, s, q)
            if t2 != 0x06 or q2 - s2 != 7 or bytes(buf[s2:s2 + 6]) != _OID_CTX:
                a.context = -2
            else:
                a.context = buf[s2 + 6]
        elif t == 0xA6:
            t2, s2, q2 = _tlv(buf, s, q)
            if t2 != 0x04:
                raise ApduError()
            a.title = bytes(buf[s2:q2])
        elif t == 0x8B:
            if q - s != 7 or bytes(buf[s:s + 6]) != _OID_MECH:
                a.mech = -2
            else:
                a.mech = buf[s + 6]
        elif t == 0xAC:
            t2, s2, q2 = _tlv(buf, s, q)
            if t2 != 0x80:
                raise ApduError()
            a.auth = bytes(buf[s2:q2])
        elif t == 0xBE:
            t2, s2, q2 = _tlv(buf, s, q)
            if t2 != 0x04:
                raise ApduError()
            a.ui_start = s2
            a.ui_len = q2 - s2
        p = q
    return a


def parse_initiate(buf, pos, end):
    """InitiateRequest at buf[pos:end] -> (dlms_version, conformance, client_max_pdu)."""
    p = pos
    try:
        if buf[p] != INITIATE_REQUEST:
            raise ApduError()
        p += 1
        if buf[p]:  # dedicated-key present: skip it (global keys only)
            n = buf[p + 1]
            p += 2 + n
        else:
            p += 1
        p += 2 if buf[p] else 1  # response-allowed
        p += 2 if buf[p] else 1  # proposed-quality-of-service
        ver = buf[p]
        if bytes(buf[p + 1:p + 5]) != b"\x5f\x1f\x04\x00":
            raise ApduError()
        conf = (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]
        if p + 10 > end:
            raise ApduError()
        pdu = (buf[p + 8] << 8) | buf[p + 9]
    except IndexError:
        raise ApduError()
    if p + 10 > end:
        raise ApduError()
    return ver, conf, pdu


def put_initiate_response(buf, pos, conf, max_pdu):
    buf[pos:pos + 6] = b"\x08\x00\x06\x5f\x1f\x04"
    struct.pack_into(">BBBBHH", buf, pos + 6, 0, (conf >> 16) & 0xFF, (conf >> 8) & 0xFF, conf & 0xFF,
                     max_pdu, 0x0007)
    return pos + 14


def put_initiate_error(buf, pos, err):
    buf[pos:pos + 4] = bytes((CONFIRMED_SERVICE_ERROR, 1, 6, err))
    return pos + 4


def _put(buf, p, tag, content):
    n = len(content)
    buf[p] = tag
    buf[p + 1] = n
    buf[p + 2:p + 2 + n] = content
    return p + 2 + n


def build_aare(buf, pos, context, result, diag, provider=False, title=None, mech=-1, stoc=None,
               ui=None):
    """Write an AARE at buf[pos:]; returns the end. ui: the user-information xDLMS APDU bytes."""
    p = pos + 3
    p = _put(buf, p, 0xA1, b"\x06\x07" + _OID_CTX + bytes((context,)))
    p = _put(buf, p, 0xA2, bytes((0x02, 0x01, result)))
    p = _put(buf, p, 0xA3, bytes((0xA2 if provider else 0xA1, 0x03, 0x02, 0x01, diag)))
    if title is not None:
        p = _put(buf, p, 0xA4, b"\x04" + bytes((len(title),)) + title)
    if stoc is not None:
        p = _put(buf, p, 0x88, b"\x07\x80")
        p = _put(buf, p, 0x89, _OID_MECH + bytes((mech,)))
        p = _put(buf, p, 0xAA, b"\x80" + bytes((len(stoc),)) + stoc)
    if ui is not None:
        p = _put(buf, p, 0xBE, b"\x04" + bytes((len(ui),)) + bytes(ui))
    n = p - pos - 3
    if n < 0x80:
        buf[pos] = AARE
        buf[pos + 1] = n
        buf[pos + 2:pos + 2 + n] = buf[pos + 3:p]
        return p - 1
    buf[pos] = AARE
    buf[pos + 1] = 0x81
    buf[pos + 2] = n
    return p


def parse_rlrq(buf, pos, end):
    """-> (reason or -1, ui_start, ui_len) of an RLRQ."""
    tag, p, e = _tlv(buf, pos, end)
    if tag != RLRQ:
        raise ApduError()
    reason, us, ul = -1, 0, 0
    while p < e:
        t, s, q = _tlv(buf, p, e)
        if t == 0x80 and q - s == 1:
            reason = buf[s]
        elif t == 0xBE:
            t2, s2, q2 = _tlv(buf, s, q)
            if t2 != 0x04:
                raise ApduError()
            us, ul = s2, q2 - s2
        p = q
    return reason, us, ul


def build_rlre(buf, pos, ui=None):
    """RLRE with reason normal (0); ui: optional user-information APDU bytes."""
    if ui is None:
        buf[pos:pos + 5] = b"\x63\x03\x80\x01\x00"
        return pos + 5
    n = len(ui)
    buf[pos:pos + 5] = bytes((RLRE, 5 + 4 + n - 2 + 2, 0x80, 0x01, 0x00))
    p = _put(buf, pos + 5, 0xBE, b"\x04" + bytes((n,)) + bytes(ui))
    buf[pos + 1] = p - pos - 2
    return p
