# The meter's real services wired to the COSEM mapping for the DLMS tests and bench: MeterClock on
# a settable board clock, the register table, SupplyControl with a recording relay, keys
# (zero EK/AK/KEK, LLS "12345678"), and one Application. Shared by mpt_dlms_model.py and
# host_tools/bench_dlms.py.
from meter.common.events import EventLog
from meter.common.registers import Registers
from meter.services.clock import MeterClock
from meter.services.supply import SupplyControl
from meter.services import cosem_model as CM
from meter.cores.dlms.server import Application
from meter.cores.dlms.association import SecState, Client
from meter.common.lockout import Lockout
from meter.cores.dlms.security import Keys
from meter.cores.dlms import apdu as A
from meter.common import timeutil as tu

T0 = tu.to_secs(2025, 1, 15, 12, 0, 0)  # a Wednesday, UTC


class BoardClock:
    valid = True

    def __init__(self, t):
        self.t = t

    def time(self):
        return self.t

    def set_time(self, t):
        self.t = t

    def ticks_ms(self):
        return 0


class Pin:
    def value(self):
        return 0


class Relay:
    def __init__(self):
        self.c = True
        self.cmds = []

    def closed(self):
        return self.c

    def busy(self):
        return False

    def abort(self):
        pass

    def start(self, closed, ms):
        self.cmds.append(closed)


class Meter:
    def __init__(self, cal_dir=None, prepay=None):
        """cal_dir: a config dir for a real TariffService (firmware/config/tariff.json active);
        prepay: a prepayment account config for a real CreditService."""
        self.bc = BoardClock(T0)
        self.events = EventLog(16)
        self.clock = MeterClock(self.bc, self.events, {"tz_offset_min": 60})
        self.svc = None
        if cal_dir is not None:
            from meter.cores.tariff.engine import Tariff
            from meter.cores.tariff.calendar import load_json
            from meter.services import tariff_config as ts
            with open("firmware/config/tariff.json", "rb") as f:
                text = f.read()
            self.tariff = Tariff(load_json(text), self.clock.tz, self.events, self.clock)
            self.svc = ts.TariffService(self.tariff, self.clock, self.events, cal_dir, ts.crc32(text))
        self.regs = Registers()
        self.s_e = self.regs.define("1-0:1.8.1", "kWh", -3, 1234567)
        self.regs.define("1-0:32.7.0", "V", -1, 2301)
        self.regs.define("C.91.1", "", 0, 0)  # not a COSEM code: skipped
        self.relay = Relay()
        self.supply = SupplyControl(self.relay, Pin(), self.regs, self.events, self.clock, self.bc,
                                    {"control_mode": 1})
        self.supply.boot(T0)
        self.credit = None
        if prepay is not None:
            from meter.cores.prepay.account import Account
            from meter.services.credit import CreditService
            self.credit = CreditService(Account(prepay), None, None, self.regs, self.events, self.clock)
            self.credit.start(T0)
        keys = Keys(b"OMT\x00\x00\x00\x00\x01", ek=bytes(16), ak=bytes(16), kek=bytes(16),
                    lls={1: b"12345678"})
        self.reg = CM.build(self.regs, self.clock, self.supply, keys,
                            {"ldn": b"OMT0000000000001", "serial": "123", "equipment_id": "E1"},
                            events=self.events, calendar=self.svc, credit=self.credit)
        clients = [Client(16), Client(1, mechs=(A.MECH_LLS, A.MECH_GMAC),
                                      contexts=(A.CTX_LN, A.CTX_LN_CIPHERED))]
        self.app = Application(self.reg, clients, keys, SecState(), Lockout(), lambda n: bytes(n))

    def x(self, apdu, sap=16):
        acts = []
        buf = bytearray(apdu)
        r = self.app.handle(buf, 0, len(buf), sap, 0, acts)
        return bytes(self.app.tx[r[0]:r[0] + r[1]])
