# Account (IC 111), credit (IC 112) and charge (IC 113) of the COSEM model (Blue Book 4.6.2-4.6.4),
# read-only views of the REAL prepayment account (cores/prepay/account.py inside
# services/credit.py): every read encodes the account's own fields, nothing is copied. Added to
# the object list only on a meter with prepayment configured (cosem_model.build(credit=...)); they
# take the logical names the credit service's registers have, so those are not also Registers.
# Amounts are the account's integer unit (Wh for an energy account, 1/1000 of the currency): account
# attribute 15 currency {name "kWh" or the currency, scale -3, unit 1 consumption / 2 monetary}.
#
#   add_credit_objects(reg, credit_service, rights)
#
# 0-0:19.0.0.255 Account: 2 account_mode_and_status {payment_mode, account_status},
#   3 current_credit_in_use (priority of the credit drawn: 1 token, 2 emergency), 4
#   current_credit_status (bit-string 8: 0 in credit, 1 low credit, 2 next credit enabled, 3 next
#   credit selectable, 5 selectable credit in use, 6 out of credit), 5 available_credit, 6
#   amount_to_clear (consumption owed + emergency credit used), 7 clearance_threshold
#   (reconnection), 8 aggregated_debt, 9/10 credit/charge_reference_list, 15 currency, 16
#   low_credit_threshold (the highest), 17 next_credit_available_threshold (emergency credit offer)
# 0-0:19.10.0.255 Credit, token: 2 current_credit_amount, 3 credit_type 0, 4 priority 1,
#   8 credit_status (3 in use / 4 exhausted)
# 0-0:19.10.1.255 Credit, emergency (when configured): 2 amount left, 3 credit_type 2, 4
#   priority 2, 8 credit_status (0 enabled, 1 selectable, 3 in use, 4 exhausted), 9
#   preset_credit_amount, 10 credit_available_threshold
# 0-0:19.20.0.255 Charge, consumption: 2 total_amount_paid (everything the account charged:
#   consumption, standing and debt are counted together), 3 charge_type 0, 4 priority 1
# 0-0:19.20.2.255 Charge, debt: 3 charge_type (2 payment-event-based with a percentage of top-ups,
#   else 1 time-based), 4 priority 2, 8 period (s), 12 total_amount_remaining (the debt), 13
#   proportion (of a top-up, 10000 = 100 %)
# Not offered: the writable and method parts (top-ups come through the token/credit service),
# unit_charge tables (prices up to 10^6 do not fit the IC 113 long charge_per_unit).
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.prepay import account as A

ACCOUNT = 111
CREDIT = 112
CHARGE = 113
_DL = axdr.DOUBLE_LONG
_LN_ACC = O.obis(0, 0, 19, 0, 0)
_LN_TOKEN = O.obis(0, 0, 19, 10, 0)
_LN_EC = O.obis(0, 0, 19, 10, 1)
_LN_CONS = O.obis(0, 0, 19, 20, 0)
_LN_DEBT = O.obis(0, 0, 19, 20, 2)
# IC 112 credit_status
_ENABLED, _SELECTABLE, _IN_USE, _EXHAUSTED = 0, 1, 3, 4
_EC_STATUS = {A.EC_AVAILABLE: _ENABLED, A.EC_SELECTABLE: _SELECTABLE, A.EC_IN_USE: _IN_USE,
              A.EC_EXHAUSTED: _EXHAUSTED, A.EC_DISABLED: _EXHAUSTED}


def _const(tag, v):
    return O.const_getter((tag, v))


def credit_status_bits(acc):
    """IC 111 current_credit_status: bit 0 is the first (most significant) bit."""
    ec = acc.ec_state
    avail = acc.available()
    b = ((avail > 0) << 7 | acc.low_warning() << 6 | (ec in (A.EC_AVAILABLE, A.EC_SELECTABLE)) << 5 |
         (ec == A.EC_SELECTABLE) << 4 | (ec == A.EC_IN_USE) << 2 | (avail <= 0) << 1)
    return (axdr.BIT_STRING, (8, bytes((b,))))


def add_credit_objects(reg, credit, rights):
    acc = credit.acc
    ec = acc.ec_amount > 0
    credits = [_LN_TOKEN, _LN_EC] if ec else [_LN_TOKEN]
    charges = [_LN_CONS, _LN_DEBT]
    # the credit registers' unit with 3 decimals: "kWh" (an energy account counts Wh) or the
    # currency name; currency_unit 1 consumption, 2 monetary
    cur = (axdr.STRUCTURE, ((axdr.UTF8_STRING, credit.regs.units[credit.s_avail].encode()),
                            (axdr.INTEGER, -3), (axdr.ENUM, 1 if acc.unit == A.ENERGY else 2)))

    def a(get):
        return O.Attr(get, None, rights)

    reg.add(O.CosemObject(ACCOUNT, 0, _LN_ACC, {
        2: a(lambda: (axdr.STRUCTURE, ((axdr.ENUM, acc.payment_mode), (axdr.ENUM, acc.account_status)))),
        3: a(lambda: (axdr.UNSIGNED, 2 if acc.ec_state == A.EC_IN_USE else 1)),
        4: a(lambda: credit_status_bits(acc)),
        5: a(lambda: (_DL, acc.available())),
        6: a(lambda: (_DL, max(0, -acc.token) + acc.ec_used())),
        7: a(lambda: (_DL, acc.reconnect_threshold)),
        8: a(lambda: (_DL, acc.debt)),
        9: a(_const(axdr.ARRAY, [(axdr.OCTET_STRING, ln) for ln in credits])),
        10: a(_const(axdr.ARRAY, [(axdr.OCTET_STRING, ln) for ln in charges])),
        15: a(O.const_getter(cur)),
        16: a(lambda: (_DL, acc.low[0] if acc.low else 0)),
        17: a(lambda: (_DL, acc.ec_threshold)),
    }))
    reg.add(O.CosemObject(CREDIT, 0, _LN_TOKEN, {
        2: a(lambda: (_DL, acc.token)), 3: a(_const(axdr.ENUM, 0)), 4: a(_const(axdr.UNSIGNED, 1)),
        8: a(lambda: (axdr.ENUM, _IN_USE if acc.token > 0 else _EXHAUSTED)),
    }))
    if ec:
        reg.add(O.CosemObject(CREDIT, 0, _LN_EC, {
            2: a(lambda: (_DL, acc.ec_left if acc.ec_state == A.EC_IN_USE else
                          (acc.ec_amount if acc.ec_state in (A.EC_AVAILABLE, A.EC_SELECTABLE) else 0))),
            3: a(_const(axdr.ENUM, 2)), 4: a(_const(axdr.UNSIGNED, 2)),
            8: a(lambda: (axdr.ENUM, _EC_STATUS[acc.ec_state])),
            9: a(lambda: (_DL, acc.ec_amount)), 10: a(lambda: (_DL, acc.ec_threshold)),
        }))
    reg.add(O.CosemObject(CHARGE, 0, _LN_CONS, {
        2: a(lambda: (_DL, acc.paid)), 3: a(_const(axdr.ENUM, 0)), 4: a(_const(axdr.UNSIGNED, 1)),
    }))
    reg.add(O.CosemObject(CHARGE, 0, _LN_DEBT, {
        3: a(lambda: (axdr.ENUM, 2 if acc.debt_percent else 1)), 4: a(_const(axdr.UNSIGNED, 2)),
        8: a(lambda: (axdr.DOUBLE_LONG_UNSIGNED, acc.debt_period)),
        12: a(lambda: (_DL, acc.debt)),
        13: a(lambda: (axdr.LONG_UNSIGNED, acc.debt_percent * 100)),
    }))
