# What the app hands the P1 builder for each telegram (ports/p1_snapshot.py refreshes one in place).


class P1Snapshot:
    """What the app hands the builder each telegram. Keep one and update it in place."""

    def __init__(self, regs=None, events=None, submeters=None):
        self.regs = regs
        self.t = 0
        self.events = events
        self.text = b""
        self.tariff = None
        self.submeters = submeters
        self.demand_month = None
        self.demand_hist = None
