# Application association (Green Book 9.4.2 ACSE, 9.2.7.4 authentication) and the Association
# LN object (class 15, version 1, Blue Book 4.4.4) of the current association, 0.0.40.0.0.255.
#
# Clients (Policy): which SAP may associate with which application contexts and mechanisms, e.g.
#   Client(16)                                     public: lowest security, LN no ciphering
#   Client(1, mechs=(MECH_LLS, MECH_GMAC), contexts=(CTX_LN, CTX_LN_CIPHERED))   management
# AARQ -> AARE (result, result-source-diagnostic acse-service-user):
#   unknown client SAP                        rejected-permanent, no-reason-given (1)
#   locked out (authenticating clients only)  rejected-transient, no-reason-given (1)
#   context not allowed / not a DLMS OID      rejected-permanent, application-context-name-not-
#                                             supported (2)
#   ciphered context or GMAC without an 8-byte calling-AP-title
#                                             rejected-permanent, calling-AP-title-not-recognized (3)
#   mechanism absent but required             rejected-permanent, mechanism-name-required (12)
#   mechanism not allowed for the client      rejected-permanent, mechanism-name-not-recognised (11)
#   no user-information / not an InitiateRequest, or a glo-initiate-request that fails to
#   decipher or replays an invocation counter rejected-permanent, no-reason-given (1), with
#                                             confirmed-service-error initiate/other (0E 01 06 00)
#   DLMS version < 6 / max PDU < 12 / no common conformance
#                                             rejected-permanent, no-reason-given, initiate error
#                                             dlms-version-too-low (1) / pdu-size-too-short (3) /
#                                             incompatible-conformance (2)
#   LLS with a wrong password                 rejected-permanent, authentication-failure (13)
#   lowest / LLS accepted                     accepted, null (0): associated
#   GMAC                                      accepted, authentication-required (14), with our
#                                             system title and StoC: pending until the client's
#                                             reply_to_HLS_authentication (method 1) verifies
#                                             f(StoC); then associated and the method returns
#                                             f(CtoS). A wrong f(StoC) releases the association.
# LLS passwords, f(StoC) checks and AARQ deciphering failures count in the Lockout (counted and
# stored before the check). A ciphered context answers with a glo-initiate-response.
from micropython import const
import struct

import metercrypto

from meter.cores.dlms import apdu as A
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.dlms import actions as X
from meter.cores.dlms.security import DecipherError, SC_AE

NON_ASSOCIATED = const(0)
PENDING = const(1)
ASSOCIATED = const(2)

CURRENT_LN = b"\x00\x00\x28\x00\x00\xff"  # 0.0.40.0.0.255
IC_RESERVE = const(256)  # tx invocation counters reserved per STORE
SERVER_CONFORMANCE = A.CONF_BLOCK_GET | A.CONF_BLOCK_SET | A.CONF_MULTIPLE_REFS | A.CONF_GET | \
    A.CONF_SET | A.CONF_SELECTIVE | A.CONF_ACTION
MIN_PDU = const(12)


class Client:
    __slots__ = ("sap", "mechs", "contexts")

    def __init__(self, sap, mechs=(A.MECH_LOWEST,), contexts=(A.CTX_LN,)):
        self.sap = sap
        self.mechs = mechs
        self.contexts = contexts


class SecState:
    """Invocation counters (owner-persisted through STORE actions; restore both tx fields to the
    stored "tx_ic" reservation and rx_ic to the stored "rx_ic", or -1). The first IC sent is 1:
    some clients (dlms-cosem) take 0 for "none received yet" and refuse it."""
    __slots__ = ("tx_ic", "tx_reserved", "rx_ic")

    def __init__(self, tx_ic=1, rx_ic=-1):
        self.tx_ic = tx_ic
        self.tx_reserved = tx_ic
        self.rx_ic = rx_ic

    def next_tx(self, actions):
        ic = self.tx_ic
        if ic > 0xFFFFFFFF - 1:
            raise DecipherError(0)  # exhausted: new keys needed
        if ic >= self.tx_reserved:
            self.tx_reserved = ic + IC_RESERVE
            actions.append((X.STORE, "tx_ic", self.tx_reserved))
        self.tx_ic = ic + 1
        return ic

    def accept_rx(self, ic, actions):
        if ic <= self.rx_ic:
            return False
        self.rx_ic = ic
        actions.append((X.STORE, "rx_ic", ic))
        return True


def _oid_struct(kind, last):
    # application_context_name / authentication_mechanism_name as the structure of OID arcs
    # {2, 16, 756, 5, 8, kind, last} (Blue Book 4.4.4, the form every client decodes)
    return (axdr.STRUCTURE, ((axdr.UNSIGNED, 2), (axdr.UNSIGNED, 16), (axdr.LONG_UNSIGNED, 756),
                             (axdr.UNSIGNED, 5), (axdr.UNSIGNED, 8), (axdr.UNSIGNED, kind),
                             (axdr.UNSIGNED, last)))


class Association:
    def __init__(self, registry, clients, keys, sec, lockout, rand, max_pdu, security_setup_ln=None):
        self.registry = registry
        self.clients = {}
        for c in clients:
            self.clients[c.sap] = c
        self.keys = keys
        self.sec = sec
        self.lockout = lockout
        self.rand = rand
        self.max_pdu = max_pdu
        self.ss_ln = security_setup_ln or b"\x00\x00\x2b\x00\x00\xff"
        self.cipher = None  # security.Cipher, set by the server
        self.status = NON_ASSOCIATED
        self.sap = 0
        self.context = A.CTX_LN
        self.mech = 0
        self.conformance = 0
        self.client_pdu = 0
        self.title = None  # client system title
        self.stoc = None
        self.ctos = None
        self._visible = None
        self.now = 0  # set by the server before each APDU (for the lockout) ...
        self.pending_actions = None  # ... and the action list of that APDU
        self.obj = self._make_object()

    # ---- state ----

    def release(self):
        self.status = NON_ASSOCIATED
        self.stoc = None
        self.ctos = None
        self._visible = None

    def ciphered(self):
        return self.context == A.CTX_LN_CIPHERED

    def _lock_actions(self, now, actions):
        if self.lockout.changed:
            self.lockout.changed = False
            actions.append((X.STORE, "lockout", self.lockout.dump(now)))

    def _fail(self, now, actions):
        s = self.lockout.failure(now)
        self._lock_actions(now, actions)
        actions.append((X.EVENT, X.EV_AUTH_FAIL, self.sap, self.mech))
        if s:
            actions.append((X.EVENT, X.EV_LOCKOUT, s, 0))

    # ---- AARQ ----

    def aarq(self, buf, pos, end, sap, now, out, o, actions):
        """Handle an AARQ from client `sap`; write the AARE at out[o:]; return its end."""
        self.release()
        self.sap = sap
        try:
            q = A.parse_aarq(buf, pos, end)
        except A.ApduError:
            return A.build_aare(out, o, A.CTX_LN, A.REJECTED_PERMANENT, A.DIAG_NO_REASON)
        ctx = q.context if q.context > 0 else A.CTX_LN
        cl = self.clients.get(sap)

        def reject(diag, result=A.REJECTED_PERMANENT, init_err=-1):
            ui = None
            if init_err >= 0:
                ui = bytes((A.CONFIRMED_SERVICE_ERROR, 1, 6, init_err))
            return A.build_aare(out, o, ctx, result, diag, ui=ui)

        if cl is None:
            return reject(A.DIAG_NO_REASON)
        mech = q.mech if q.mech != -1 else A.MECH_LOWEST
        self.mech = mech
        if q.context not in cl.contexts:
            return reject(A.DIAG_CONTEXT_NOT_SUPPORTED)
        if mech not in cl.mechs:
            if q.mech == -1 and A.MECH_LOWEST not in cl.mechs:
                return reject(A.DIAG_MECH_REQUIRED)
            return reject(A.DIAG_MECH_NOT_RECOGNISED)
        auth = mech != A.MECH_LOWEST
        if auth and self.lockout.locked(now):
            return reject(A.DIAG_NO_REASON, A.REJECTED_TRANSIENT)
        needs_title = ctx == A.CTX_LN_CIPHERED or mech == A.MECH_GMAC
        if needs_title and (q.title is None or len(q.title) != 8):
            return reject(A.DIAG_CALLING_AP_TITLE)
        self.title = q.title
        if q.ui_len == 0:
            return reject(A.DIAG_NO_REASON, init_err=A.INIT_OTHER)
        us, ul = q.ui_start, q.ui_len
        if ctx == A.CTX_LN_CIPHERED:
            # glo-initiate-request: 21 len SC IC ciphertext tag, deciphered in place
            if auth:  # a valid tag proves the keys: counted as an authentication attempt
                self.lockout.attempt()
                self._lock_actions(now, actions)
            try:
                if buf[us] != A.GLO_INITIATE_REQUEST:
                    raise DecipherError(0)
                n, p = axdr.read_length(buf, us + 1, us + ul)
                if p + n != us + ul:
                    raise DecipherError(0)
                sc, ic, us, ul = self.cipher.decipher(self.keys, self.title, buf, p, p + n)
                if not self.sec.accept_rx(ic, actions):
                    actions.append((X.EVENT, X.EV_REPLAY, sap, ic))
                    raise DecipherError(0)
            except (DecipherError, axdr.AxdrError):
                if auth:
                    self._fail(now, actions)
                return reject(A.DIAG_NO_REASON, init_err=A.INIT_OTHER)
            if auth:
                self.lockout.success()
                self._lock_actions(now, actions)
        try:
            ver, conf, pdu = A.parse_initiate(buf, us, us + ul)
        except A.ApduError:
            return reject(A.DIAG_NO_REASON, init_err=A.INIT_OTHER)
        if ver < 6:
            return reject(A.DIAG_NO_REASON, init_err=A.INIT_DLMS_VERSION_TOO_LOW)
        if pdu == 0:
            pdu = 0xFFFF
        if pdu < MIN_PDU:
            return reject(A.DIAG_NO_REASON, init_err=A.INIT_PDU_SIZE_TOO_SHORT)
        conf &= SERVER_CONFORMANCE
        if conf == 0:
            return reject(A.DIAG_NO_REASON, init_err=A.INIT_INCOMPATIBLE_CONFORMANCE)
        self.context = ctx
        self.conformance = conf
        self.client_pdu = pdu
        diag = A.DIAG_NULL
        stoc = None
        title = None
        if mech == A.MECH_LLS:
            self.lockout.attempt()
            self._lock_actions(now, actions)
            pw = self.keys.lls.get(sap)
            if pw is None or q.auth is None or not metercrypto.compare_digest(q.auth, pw):
                self._fail(now, actions)
                return reject(A.DIAG_AUTH_FAILURE)
            self.lockout.success()
            self._lock_actions(now, actions)
        elif mech == A.MECH_GMAC:
            if q.auth is None or not 8 <= len(q.auth) <= 64 or self.keys.ek is None:
                self.lockout.attempt()
                self._fail(now, actions)
                return reject(A.DIAG_AUTH_FAILURE)
            self.ctos = q.auth
            self.stoc = self.rand(16)
            stoc = self.stoc
            title = self.keys.system_title
            diag = A.DIAG_AUTH_REQUIRED
        elif ctx == A.CTX_LN_CIPHERED:
            title = self.keys.system_title
        if ctx == A.CTX_LN_CIPHERED and title is None:
            title = self.keys.system_title
        # user-information: InitiateResponse, glo-ciphered in a ciphered context
        ir = bytearray(14 + 5 + 12 + 2)
        A.put_initiate_response(ir, 2 + 5, conf, self.max_pdu)
        if ctx == A.CTX_LN_CIPHERED:
            ic = self.sec.next_tx(actions)
            ir[0] = A.GLO_INITIATE_RESPONSE
            ir[1] = 5 + 14 + 12
            ir[2] = SC_AE
            struct.pack_into(">I", ir, 3, ic)
            self.cipher.encipher(self.keys, SC_AE, ic, ir, 7, 14)
            ui = ir
        else:
            ui = ir[7:21]
        self.status = PENDING if mech == A.MECH_GMAC else ASSOCIATED
        if self.status == ASSOCIATED:
            actions.append((X.EVENT, X.EV_ASSOCIATED, sap, mech))
        return A.build_aare(out, o, ctx, A.ACCEPTED, diag, title=title, mech=mech, stoc=stoc, ui=ui)

    # ---- the Association LN object (class 15 v1) ----

    def _make_object(self):
        rd = {}
        auth_w = {}
        m1 = {}
        m2 = {}
        for sap, c in self.clients.items():
            rd[sap] = O.READ
            authc = any(m != A.MECH_LOWEST for m in c.mechs)
            auth_w[sap] = O.WRITE if authc else O.NO_ACCESS
            m1[sap] = O.M_ACCESS if A.MECH_GMAC in c.mechs else O.M_NONE
            m2[sap] = O.M_ACCESS if authc else O.M_NONE
        attrs = {
            2: O.Attr(self._object_list, None, rd),
            3: O.Attr(self._partners, None, rd),
            4: O.Attr(lambda: _oid_struct(1, self.context), None, rd),
            5: O.Attr(self._xdlms, None, rd),
            6: O.Attr(lambda: _oid_struct(2, self.mech), None, rd),
            7: O.Attr(None, self._set_secret, auth_w),
            8: O.Attr(lambda: (axdr.ENUM, self.status), None, rd),
            9: O.Attr(lambda: (axdr.OCTET_STRING, self.ss_ln), None, rd),
        }
        methods = {1: O.Method(self._reply_hls, m1), 2: O.Method(self._change_secret, m2)}
        return O.CosemObject(O.ASSOCIATION_LN, 1, CURRENT_LN, attrs, methods)

    def visible(self):
        """[entry], count: the objects this client sees, an ObjectTable as one entry."""
        if self._visible is None:
            sap = self.sap
            vis = [self.obj]
            n = 1
            for ob in self.registry.order:
                if ob.visible(sap):
                    vis.append(ob)
                    n += len(ob) if isinstance(ob, O.ObjectTable) else 1
            self._visible = (vis, n)
        return self._visible

    def _object_list(self):
        vis, count = self.visible()
        sap = self.sap

        def item(i):
            for ob in vis:
                if isinstance(ob, O.ObjectTable):
                    if i < len(ob):
                        ob = ob.make(i)
                        break
                    i -= len(ob)
                elif i == 0:
                    break
                else:
                    i -= 1
            n = max(ob.attrs) if ob.attrs else 1
            aa = []
            for aid in range(1, n + 1):
                a = ob.attrs.get(aid)
                sel = axdr.NULL_VALUE
                if a is not None and a.selectors:
                    sel = (axdr.ARRAY, [(axdr.INTEGER, s) for s in a.selectors])
                aa.append((axdr.STRUCTURE, ((axdr.INTEGER, aid), (axdr.ENUM, ob.attr_mode(sap, aid)),
                                            sel)))
            ma = []
            for mid in sorted(ob.methods):
                ma.append((axdr.STRUCTURE, ((axdr.INTEGER, mid),
                                            (axdr.ENUM, ob.methods[mid].rights.get(sap, 0)))))
            return (axdr.STRUCTURE, ((axdr.LONG_UNSIGNED, ob.class_id), (axdr.UNSIGNED, ob.version),
                                     (axdr.OCTET_STRING, ob.ln),
                                     (axdr.STRUCTURE, ((axdr.ARRAY, aa), (axdr.ARRAY, ma)))))
        return (axdr.ARRAY, axdr.Rows(count, item))

    def _partners(self):
        return (axdr.STRUCTURE, ((axdr.INTEGER, self.sap), (axdr.LONG_UNSIGNED, 1)))

    def _xdlms(self):
        c = self.conformance
        return (axdr.STRUCTURE, ((axdr.BIT_STRING, (24, bytes(((c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF)))),
                                 (axdr.LONG_UNSIGNED, self.max_pdu),
                                 (axdr.LONG_UNSIGNED, min(self.client_pdu, 0xFFFF)),
                                 (axdr.UNSIGNED, 6), (axdr.INTEGER, 0), (axdr.OCTET_STRING, b"")))

    def _set_secret(self, value):
        if value[0] != axdr.OCTET_STRING or not 1 <= len(value[1]) <= 32:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        self.pending_actions.append((X.SECRET, self.sap, value[1]))

    def _change_secret(self, params):
        if params is None or params[0] != axdr.OCTET_STRING or not 1 <= len(params[1]) <= 32:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        self.pending_actions.append((X.SECRET, self.sap, params[1]))
        return None

    def _reply_hls(self, params):
        """Pass 3/4 of HLS-GMAC: verify f(StoC), answer f(CtoS)."""
        if self.status != PENDING or self.stoc is None:
            raise O.DataAccessError(O.READ_WRITE_DENIED)
        if params is None or params[0] != axdr.OCTET_STRING:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        now, actions = self.now, self.pending_actions
        self.lockout.attempt()
        self._lock_actions(now, actions)
        try:
            # f(StoC) is bound to our fresh challenge, so its IC needs no replay check (gurux
            # computes it with the IC before the one of the APDU that carries it)
            self.cipher.check_gmac(self.keys, self.title, self.stoc, params[1])
        except DecipherError:
            self._fail(now, actions)
            self.release()
            raise O.DataAccessError(O.READ_WRITE_DENIED)
        self.lockout.success()
        self._lock_actions(now, actions)
        self.status = ASSOCIATED
        actions.append((X.EVENT, X.EV_ASSOCIATED, self.sap, self.mech))
        resp = bytearray(17)
        self.cipher.gmac(self.keys, self.keys.system_title, self.sec.next_tx(actions), self.ctos, resp)
        return (axdr.OCTET_STRING, bytes(resp))
