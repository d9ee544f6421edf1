# TEMPORARY (foundation slice): a minimal energy integrator until the ATM90E32 model lands.
class SliceAfe:
    def __init__(self, now_ms):
        self.now_ms = now_ms
        self.p = [0, 0, 0]
        self.t = now_ms()
        self.acc = [0, 0, 0]  # mW*ms

    def set_load(self, phase, mv, ma, p_mw, q_mvar, at_ms):
        self.advance_to(at_ms)
        self.p[phase - 1] = p_mw

    def advance_to(self, ms):
        d = ms - self.t
        if d > 0:
            for i in range(3):
                self.acc[i] += self.p[i] * d
            self.t = ms

    def take_uj(self, phase):
        self.advance_to(self.now_ms())
        v = self.acc[phase]
        self.acc[phase] = 0
        return v
