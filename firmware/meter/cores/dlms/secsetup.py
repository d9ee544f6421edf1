# Security setup (class 64, version 0; Blue Book 4.4.7) for security suite 0:
#   2 security_policy (enum: 0 nothing, 1 all messages authenticated, 2 encrypted, 3 both),
#   3 security_suite (enum 0), 4 client_system_title (the current association's), 5
#   server_system_title; method 2 global_key_transfer(array of structure{key_id enum,
#   key_wrapped octet-string}): each key is AES-key-wrapped (RFC 3394) with the master key.
#   All keys are unwrapped first; if any fails (integrity, length, unknown id, repeated id) none
#   is applied and the method answers other-reason / type-unmatched. Good keys become NEW_KEY
#   actions (key_id 0 unicast EK, 1 broadcast EK, 2 AK): the owner stores and installs them.
#   The master key itself (id 3) cannot be transferred this way (Blue Book: KEK transfer is out
#   of scope of global_key_transfer).
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.dlms import actions as X
from meter.cores.dlms.security import key_unwrap


def security_setup(ln, keys, policy, rights, method_rights, client_title=b""):
    """client_title: the configured client system title shown in attribute 4."""

    def transfer(params, assoc):
        if keys.kek is None:
            raise O.DataAccessError(O.TEMPORARY_FAILURE)
        if params is None or params[0] != axdr.ARRAY or not 1 <= len(params[1]) <= 3:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        got = []
        seen = 0
        for item in params[1]:
            if item[0] != axdr.STRUCTURE or len(item[1]) != 2:
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            kid, wrapped = item[1]
            if kid[0] != axdr.ENUM or wrapped[0] != axdr.OCTET_STRING:
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            k = kid[1]
            if k > 2 or seen & (1 << k):
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            seen |= 1 << k
            try:
                key = key_unwrap(keys.kek, wrapped[1])
            except ValueError:
                raise O.DataAccessError(O.OTHER_REASON)
            if len(key) != 16:
                raise O.DataAccessError(O.OTHER_REASON)
            got.append((k, key))
        for k, key in got:
            assoc.pending_actions.append((X.NEW_KEY, k, key))
        return None

    ro = O.read_only(rights)
    attrs = {
        2: O.Attr(lambda: (axdr.ENUM, policy), None, ro),
        3: O.Attr(lambda: (axdr.ENUM, 0), None, ro),
        4: O.Attr(O.const_getter((axdr.OCTET_STRING, client_title)), None, ro),
        5: O.Attr(lambda: (axdr.OCTET_STRING, keys.system_title), None, ro),
    }
    return O.CosemObject(O.SECURITY_SETUP, 0, ln, attrs,
                         {2: O.Method(transfer, method_rights, ctx=True)})
