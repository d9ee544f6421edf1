# EN 13757-3 application layer data records: decode and encode, sans-I/O, integers only (no
# float in the path that feeds P1: a value is an int `value` with a decimal `scaler`).
#
#     r = Record(); p = r.decode(b, p, end)   # >= 0: next offset; < 0: -reason (R_*)
#     r.dtype, r.value (int; raw offset for _T_VAR/_T_REAL), r.unit, r.scaler, r.storage,
#     r.tariff, r.subunit, r.function, r.vif, r.vife_off/n_vife, r.data_off, r.data_len
#     p = encode(out, p, dif, vif, value, storage=0, tariff=0, subunit=0)  # ints / BCD
#
# DIF (6.3): bit 7 extension, bit 6 storage LSB, bits 5..4 function, bits 3..0 data field.
# DIFE (6.3.3): bit 7 extension, bit 6 subunit, bits 5..4 tariff, bits 3..0 storage.
# VIF (6.4): primary table (Table 10), 0xFB/0xFD extension tables (Tables 12/14), 0x7C/0xFC plain
# text, 0x7E/0xFE any, 0x7F/0xFF manufacturer specific (passed through with its VIFEs).
from micropython import const

# reasons (returned negated); names with a leading underscore are const-folded here only (no
# module-dict entry on the heap): the values are the interface, the names of those no caller uses
# are private
R_SHORT = const(1)  # record runs past the end
R_DIFE = const(2)  # more than 10 DIFEs
_R_VIFE = const(3)  # more than 10 VIFEs
R_LVAR = const(4)  # reserved/unsupported LVAR
R_BCD = const(5)  # invalid BCD digit (other than the sign nibble F)
_R_DIF = const(6)  # special function DIF inside the records (0x0F/0x1F: manufacturer data follows)

# data types
T_NONE = const(0)
T_INT = const(1)
T_BCD = const(2)
_T_REAL = const(3)  # IEEE 754 single: raw at data_off (the caller decides; P1 never sees it)
_T_VAR = const(4)  # variable length: data_off, data_len
_T_DATE_G = const(5)
T_DATETIME_F = const(6)
_T_TIME_J = const(7)
_T_DATETIME_I = const(8)
_T_DST_K = const(9)
T_MFCT = const(10)  # 0x0F/0x1F: manufacturer data to the end

# units
_U_NONE = const(0)
U_WH = const(1)
U_J = const(2)
U_M3 = const(3)
_U_KG = const(4)
_U_S = const(5)
_U_W = const(6)
_U_JH = const(7)
_U_M3H = const(8)
_U_C = const(9)
_U_K = const(10)
_U_BAR = const(11)
_U_HCA = const(12)
_U_DATE = const(13)
_U_DATETIME = const(14)
_U_M3MIN = const(15)
_U_M3S = const(16)
_U_KGH = const(17)
_U_ID = const(18)  # fabrication number, identification, address
_U_VAR = const(19)  # described elsewhere (plain text / any / manufacturer)
_U_VA = const(20)
_U_VAR_R = const(21)  # reactive, FD-table extension

# EN 13757-3 primary VIFs E0000nnn .. E1010nnn: the unit by bits 6..3 and the decimal
# scaler's offset from nnn (Wh: 10^(nnn-3), J: 10^nnn, m3: 10^(nnn-6), ...); entry 4 is on time.
_PRIMARY_UNIT = b"\x01\x02\x03\x04\x05\x06\x07\x08\x0f\x10\x11"  # Wh J m3 kg s W J/h m3/h m3/min m3/s kg/h
_PRIMARY_EXP = (-3, 0, -6, -3, 0, -3, 0, -6, -7, -9, -3)
_U_V = const(22)
_U_A = const(23)


_LEN = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, 8)  # data field -> bytes (13: LVAR)


class Record:
    def __init__(self):
        self.clear()

    def clear(self):
        self.dif = self.vif = 0
        self.function = self.storage = self.tariff = self.subunit = 0
        self.dtype = T_NONE
        self.value = 0
        self.unit = _U_NONE
        self.scaler = 0
        self.ext = 0  # 0, 0xFB or 0xFD: the VIF table used
        self.vife_off = self.n_vife = 0
        self.data_off = self.data_len = 0

    def decode(self, b, p, end):
        """Decode the record at b[p]; skips idle fillers (0x2F) before it. Returns the next
        offset, end (nothing left), or -reason."""
        while p < end and b[p] == 0x2F:
            p += 1
        if p >= end:
            return end
        self.clear()
        dif = self.dif = b[p]
        p += 1
        if dif == 0x0F or dif == 0x1F:
            self.dtype = T_MFCT
            self.data_off = p
            self.data_len = end - p
            return end
        if (dif & 0x0F) == 0x0F:
            return -_R_DIF
        self.function = (dif >> 4) & 3
        st = (dif >> 6) & 1
        tar = sub = 0
        e = dif & 0x80
        k = 0
        while e:
            if p >= end:
                return -R_SHORT
            if k == 10:
                return -R_DIFE
            d = b[p]
            p += 1
            st |= (d & 0x0F) << (1 + 4 * k)
            tar |= ((d >> 4) & 3) << (2 * k)
            sub |= ((d >> 6) & 1) << k
            e = d & 0x80
            k += 1
        self.storage, self.tariff, self.subunit = st, tar, sub
        if p >= end:
            return -R_SHORT
        vif = self.vif = b[p]
        p += 1
        if vif == 0xFB or vif == 0xFD:
            if p >= end:
                return -R_SHORT
            self.ext = vif
            vif = self.vif = b[p]
            p += 1
        elif vif == 0x7C or vif == 0xFC:  # plain text VIF: length and ASCII follow
            if p >= end or p + 1 + b[p] > end:
                return -R_SHORT
            p += 1 + b[p]
        self._unit(vif)
        self.vife_off = p
        k = 0
        e = vif & 0x80
        while e:
            if p >= end:
                return -R_SHORT
            if k == 10:
                return -_R_VIFE
            e = b[p] & 0x80
            p += 1
            k += 1
        self.n_vife = k
        return self._data(b, p, end, dif & 0x0F)

    def _unit(self, v):
        x = self.ext
        v &= 0x7F
        u, s = _U_VAR, 0
        if x == 0:
            n = v & 7
            h = v >> 3
            if h <= 10:  # E0000nnn .. E1010nnn: one unit each, scaler nnn + offset (table below)
                u = _PRIMARY_UNIT[h]
                s = 0 if u == _U_S else n + _PRIMARY_EXP[h]  # on time: nn = s/min/h/d, kept in vif
            elif h == 11:
                u, s = _U_C, (v & 3) - 3
            elif h == 12:
                u, s = (_U_K if v < 0x64 else _U_C), (v & 3) - 3
            elif h == 13:
                if v < 0x6C:
                    u, s = _U_BAR, (v & 3) - 3
                elif v < 0x6E:
                    u = _U_DATE if v == 0x6C else _U_DATETIME
                elif v == 0x6E:
                    u = _U_HCA
            elif h == 14 or h == 15:
                if v in (0x78, 0x79, 0x7A):
                    u = _U_ID
                elif v < 0x78:
                    u = _U_S
        elif x == 0xFD:
            if v & 0x70 == 0x40:
                u, s = _U_V, (v & 0x0F) - 9
            elif v & 0x70 == 0x50:
                u, s = _U_A, (v & 0x0F) - 12
        elif x == 0xFB:
            if v & 0x7E == 0x00:
                u, s = U_WH, (v & 1) + 5  # MWh 0.1..1 -> Wh 10^5..10^6
        self.unit, self.scaler = u, s

    def _data(self, b, p, end, df):
        n = _LEN[df]
        if n < 0:  # LVAR (6.3.4)
            if p >= end:
                return -R_SHORT
            lv = b[p]
            p += 1
            if lv > 0xBF:
                return -R_LVAR
            n = lv
            self.dtype = _T_VAR
        if p + n > end:
            return -R_SHORT
        self.data_off, self.data_len = p, n
        if self.dtype == _T_VAR:
            return p + n
        u = self.unit
        if df == 5:
            self.dtype = _T_REAL
        elif df >= 9 and df != 13:
            v = 0
            neg = False
            for i in range(n - 1, -1, -1):
                hi, lo = b[p + i] >> 4, b[p + i] & 15
                if i == n - 1 and hi == 0x0F:
                    neg, hi = True, 0
                if hi > 9 or lo > 9:
                    return -R_BCD
                v = v * 100 + hi * 10 + lo
            self.value = -v if neg else v
            self.dtype = T_BCD
        else:
            v = 0
            for i in range(n - 1, -1, -1):
                v = (v << 8) | b[p + i]
            if n and b[p + n - 1] & 0x80 and u != _U_DATE and u != _U_DATETIME and u != _U_ID:
                v -= 1 << (8 * n)  # two's complement (6.3.2, Type B)
            self.value = v
            if u == _U_DATE and n == 2:
                self.dtype = _T_DATE_G
            elif u == _U_DATETIME and n == 4:
                self.dtype = T_DATETIME_F
            elif u == _U_DATETIME and n == 6:
                self.dtype = _T_DATETIME_I
            elif u == _U_DATETIME and n == 3:
                self.dtype = _T_TIME_J
            else:
                self.dtype = T_INT
        return p + n


def date_g(v):
    """Type G (16 bit) -> (year, month, day)."""
    return (2000 + (((v >> 5) & 7) | ((v >> 9) & 0x78)), (v >> 8) & 0x0F, v & 0x1F)


def datetime_f(v):
    """Type F (32 bit) -> (year, month, day, hour, minute); invalid flag (bit 7) -> None."""
    if v & 0x80:
        return None
    d = v >> 16
    return (2000 + (((d >> 5) & 7) | ((d >> 9) & 0x78)), (d >> 8) & 0x0F, d & 0x1F,
            (v >> 8) & 0x1F, v & 0x3F)


def encode(out, p, dif, vif, value, storage=0, tariff=0, subunit=0):
    """Write one record (integer or BCD data field, from dif's low nibble) at out[p]; DIFEs are
    added for storage > 1, tariff or subunit. Returns the next offset."""
    df = dif & 0x0F
    dif = (dif & 0x3F) | ((storage & 1) << 6)
    st, ta, su = storage >> 1, tariff, subunit
    if st or ta or su:
        dif |= 0x80
    out[p] = dif
    p += 1
    while st or ta or su:
        d = (st & 0x0F) | ((ta & 3) << 4) | ((su & 1) << 6)
        st, ta, su = st >> 4, ta >> 2, su >> 1
        if st or ta or su:
            d |= 0x80
        out[p] = d
        p += 1
    if isinstance(vif, int):
        out[p] = vif
        p += 1
    else:
        for x in vif:
            out[p] = x
            p += 1
    n = _LEN[df]
    if df >= 9:
        v = -value if value < 0 else value
        for i in range(n):
            out[p + i] = (v % 10) | (((v // 10) % 10) << 4)
            v //= 100
        if value < 0:
            out[p + n - 1] |= 0xF0
    else:
        v = value  # >> on a negative int keeps the two's complement bytes
        for i in range(n):
            out[p + i] = v & 0xFF
            v >>= 8
    return p + n
