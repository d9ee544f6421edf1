# What the DLMS server returns to its owner (a port task): a list of tuples, carried out in order.
#   (SEND, bytes-like)              write to the link (valid until the next receive/poll call)
#   (CLOSE,)                        close the TCP connection (framing error or inactivity)
#   (STORE, name, value)            persist before anything later in the list goes out:
#       "tx_ic"   int: the server's invocation counter reservation; restore SecState.tx_ic and
#                 SecState.tx_reserved to it after a restart
#       "rx_ic"   int: the last accepted client invocation counter (replay protection)
#       "lockout" 8 bytes: Lockout.dump()
#   (NEW_KEY, key_id, key)          a key delivered by Security setup global_key_transfer
#                                   (key_id 0 unicast EK, 1 broadcast EK, 2 AK, 3 master KEK):
#                                   store it and install it in Keys (it applies from the next
#                                   APDU; this answer already went out under the old key)
#   (SECRET, client_sap, value)     a new LLS password (Association LN secret, change_HLS_secret):
#                                   store it and install it in Keys.lls
#   (EVENT, code, a, b)             for the event log; codes below
from micropython import const

SEND = const(1)
CLOSE = const(2)
STORE = const(3)
NEW_KEY = const(4)
SECRET = const(5)
EVENT = const(6)

EV_ASSOCIATED = const(1)  # a = client SAP, b = mechanism id
EV_AUTH_FAIL = const(2)  # a = client SAP, b = mechanism id
EV_LOCKOUT = const(3)  # a = lockout seconds
EV_RELEASED = const(4)  # a = client SAP
EV_WRITE = const(5)  # a = class id, b = logical name (6 bytes) + attribute id (1 byte)
EV_ACTION = const(6)  # a = class id, b = logical name + method id
EV_REPLAY = const(7)  # a = client SAP, b = rejected invocation counter
