# TI CC1101 register map and the wM-Bus register sets.
# Sources: CC1101 datasheet SWRS061I (section numbers below), TI DN/AN for wM-Bus on the CC1101:
# AN067 "Wireless M-Bus Implementation with CC1101 and MSP430" (SWRA234: S and T mode settings)
# and SWRA522 (C-mode and T-mode reception with one register set), CC1101 errata SWRZ020.
# Values derived here from the datasheet formulas with fXOSC = 26 MHz; where a value is a
# SmartRF Studio / app-note recommendation with no formula, the comment says so.
from micropython import const

# Only what the driver core (core.py) and tests need is public; every other name is a private
# const() (inlined by the compiler, no entry in the module's dict: RAM on small heaps). The SPI
# header, strobes and status registers live in core.py, their only user.

# configuration register addresses used in the patches below (SWRS061 table 43)
_IOCFG0 = const(0x02)
_FIFOTHR = const(0x03)
_SYNC1 = const(0x04)
_SYNC0 = const(0x05)
_FREQ2 = const(0x0D)
_FREQ1 = const(0x0E)
_FREQ0 = const(0x0F)
_MDMCFG4 = const(0x10)
_MDMCFG3 = const(0x11)
_MDMCFG2 = const(0x12)
_DEVIATN = const(0x15)
_BSCFG = const(0x1A)

# GDOx signal selection (SWRS061 table 41)
_GDO_RX_THR = const(0x00)  # RX FIFO >= threshold, de-asserts when drained below it
_GDO_TX_THR = const(0x02)  # TX FIFO >= threshold, de-asserts below it
_GDO_SYNC = const(0x06)  # sync word sent/received; de-asserts at end of packet (and on over/underflow)
_GDO_HIZ = const(0x2E)

FIFOTHR_BULK = const(0x03)  # RX 16 / TX 49 bytes: after GDO0 rises the service has 48 bytes
# (3.84 ms at 100 kchip/s) before the RX FIFO overflows
MCSM0_CAL = const(0x18)  # FS_AUTOCAL = 1: calibrate when going from IDLE to RX or TX

# --- the T1+C1 receive register set, 0x00..0x2E, written in one burst ---------------------------
# Frequency: f = fXOSC / 2**16 * FREQ (SWRS061 21): 868.95 MHz * 2**16 / 26 MHz = 2190288.7
#   -> 0x216BD1 = 868.950104 MHz (+0.1 kHz; EN 13757-4 allows +-60 kHz in mode T/C).
# Data rate: R = (256 + DRATE_M) * 2**DRATE_E / 2**28 * fXOSC (SWRS061 12): E = 11, M = 248
#   -> 99.976 kBaud, the nearest to 100 kchip/s (C1 needs +-100 ppm; T1 meters may be +-12 %
#   off, which BSCFG.BS_LIMIT = +-12.5 % follows: SWRA522).
# Channel filter: BW = fXOSC / (8 * (4 + CHANBW_M) * 2**CHANBW_E) (SWRS061 13): E = 1, M = 1 ->
#   325 kHz, room for T1's up to +-80 kHz deviation plus the 100 kchip/s signal and crystal offsets.
RX_TC = bytes((
    _GDO_SYNC,  # 0x00 IOCFG2: GDO2 = sync received .. end of packet (SWRS061 table 41, 0x06)
    _GDO_HIZ,  # 0x01 IOCFG1: GDO1 is SO; tri-state when CSn high (reset value 0x2E)
    _GDO_RX_THR,  # 0x02 IOCFG0: GDO0 = RX FIFO at or above threshold (0x00)
    0x00,  # 0x03 FIFOTHR: FIFO_THR = 0 -> RX 4 bytes while a packet's first bytes are awaited,
           #      so GDO0 calls the service as soon as the length can be read (a 14-byte C1
           #      frame lasts 1.6 ms: the fixed-length switch must come before its end); then
           #      FIFOTHR_BULK (table 44)
    0x54,  # 0x04 SYNC1: sync 0x543D = "010101" (preamble tail) + T sync "0000111101"; also the
    0x3D,  # 0x05 SYNC0  C-mode sync word (EN 13757-4; SWRA522)
    0xFF,  # 0x06 PKTLEN: set per packet (mod 256) once the L-field is known (SWRS061 15.3)
    0x00,  # 0x07 PKTCTRL1: PQT = 0, no CRC autoflush, no appended status, no address check
    0x02,  # 0x08 PKTCTRL0: no whitening, FIFO mode, no CRC (wM-Bus has block CRCs), infinite
           #      length at the start of every packet (SWRS061 15.3, "packet length > 255")
    0x00,  # 0x09 ADDR: unused
    0x00,  # 0x0A CHANNR: channel 0
    0x08,  # 0x0B FSCTRL1: IF = fXOSC / 2**10 * 8 = 203 kHz (SmartRF Studio for a 325 kHz filter)
    0x00,  # 0x0C FSCTRL0: no frequency offset
    0x21,  # 0x0D FREQ2 \
    0x6B,  # 0x0E FREQ1  } 0x216BD1 = 868.950 MHz
    0xD1,  # 0x0F FREQ0 /
    0x5B,  # 0x10 MDMCFG4: CHANBW_E = 1, CHANBW_M = 1 (325 kHz), DRATE_E = 11
    0xF8,  # 0x11 MDMCFG3: DRATE_M = 248 -> 99.976 kBaud
    0x02,  # 0x12 MDMCFG2: DC filter on, 2-FSK, no Manchester, SYNC_MODE = 2: 16/16 sync bits
    0x22,  # 0x13 MDMCFG1: no FEC, NUM_PREAMBLE = 2 (4 bytes; TX: 16 + 3 "01" pairs in 0x54 =
           #      the 19 pairs mode T needs), CHANSPC_E = 2 (reset)
    0xF8,  # 0x14 MDMCFG0: CHANSPC_M (reset; one channel used)
    0x47,  # 0x15 DEVIATN: E = 4, M = 7 -> 47.6 kHz, between C (45 kHz) and T (50 kHz) nominal
    0x07,  # 0x16 MCSM2: no RX timeout (reset)
    0x0C,  # 0x17 MCSM1: CCA always, RXOFF_MODE = RX (back to sync search after a packet, so a
           #      back-to-back frame is not missed), TXOFF_MODE = IDLE
    0x08,  # 0x18 MCSM0: FS_AUTOCAL = 0, PO_TIMEOUT = 2 (~150 us). The driver calibrates on
           #      start_rx()/transmit() (MCSM0_CAL for that one strobe), so recovering from an
           #      overflow is IDLE -> RX in ~90 us instead of ~800 us with calibration
    0x2E,  # 0x19 FOCCFG: freq. offset comp. gated by CS, pre-sync 2K, post-sync K/2, limit BW/4
    0xBF,  # 0x1A BSCFG: bit sync 3KI/3KP pre-sync, KI/2 KP post-sync, BS_LIMIT = +-12.5 % (T1)
    0x43,  # 0x1B AGCCTRL2: MAX_DVGA_GAIN = 1, LNA max, MAGN_TARGET 33 dB (SmartRF / AN067 T mode)
    0x40,  # 0x1C AGCCTRL1: LNA priority, carrier sense thresholds off
    0x91,  # 0x1D AGCCTRL0: hysteresis medium, 16 samples wait, normal freeze, filter 16 (AN067)
    0x87,  # 0x1E WOREVT1 (reset; WOR unused)
    0x6B,  # 0x1F WOREVT0 (reset)
    0xFB,  # 0x20 WORCTRL: RC oscillator off (SmartRF)
    0xB6,  # 0x21 FREND1: RX front end currents (SmartRF / AN067)
    0x10,  # 0x22 FREND0: PA_POWER = 0 -> PATABLE[0] (no ramping)
    0xEA,  # 0x23 FSCAL3 \
    0x2A,  # 0x24 FSCAL2  } synthesizer calibration (SmartRF / AN067; results overwritten by SCAL)
    0x00,  # 0x25 FSCAL1 |
    0x1F,  # 0x26 FSCAL0 /
    0x41,  # 0x27 RCCTRL1 (reset)
    0x00,  # 0x28 RCCTRL0 (reset)
    0x59,  # 0x29 FSTEST (reset)
    0x7F,  # 0x2A PTEST (reset)
    0x3F,  # 0x2B AGCTEST (reset)
    0x81,  # 0x2C TEST2 \  better sensitivity at <= 100 kBaud (SWRS061 table 43 note; SmartRF)
    0x35,  # 0x2D TEST1 /
    0x09,  # 0x2E TEST0: VCO_SEL_CAL_EN = 0 (SmartRF for 868 MHz)
))

# Patches on top of RX_TC, bytes of (address, value) pairs, for the other register sets.
# S1 receive: 868.3 MHz -> 868.3e6 * 2**16 / 26e6 = 2188650.3 -> 0x21656A = 868.299866 MHz;
# 32.768 kchip/s -> E = 10, M = 74: 32.730 kBaud (-0.12 %); filter E = 1, M = 2 -> 271 kHz;
# deviation +-50 kHz -> E = 5, M = 0: 50.8 kHz; sync: the last 16 chips of the S sync word
# "000111011010010110" = 0x7696 (AN067); the frame is Manchester coded and decoded in software.
RX_S = bytes((_FREQ2, 0x21, _FREQ1, 0x65, _FREQ0, 0x6A, _MDMCFG4, 0x6A, _MDMCFG3, 0x4A,
               _SYNC1, 0x76, _SYNC0, 0x96, _DEVIATN, 0x50, _BSCFG, 0x6D))  # BS_LIMIT +-3.125 %
# transmit: GDO0 follows the TX FIFO threshold (refill when it drops below 49 bytes)
TX_T1 = bytes((_DEVIATN, 0x50, _IOCFG0, _GDO_TX_THR, _FIFOTHR, FIFOTHR_BULK))  # T: +-50 kHz: 50.8 kHz
TX_C1 = bytes((_DEVIATN, 0x46, _IOCFG0, _GDO_TX_THR, _FIFOTHR, FIFOTHR_BULK))  # C: +-45 kHz: 44.4 kHz
# S1 transmit: the chip sends no preamble/sync (SYNC_MODE = 0); the FIFO carries the S1 header:
# 279 "01" pairs (S1 needs n >= 279) and the 18-chip sync word, 576 chips = 72 bytes exactly.
TX_S = RX_S + bytes((_MDMCFG2, 0x00, _IOCFG0, _GDO_TX_THR, _FIFOTHR, FIFOTHR_BULK))
S1_HEADER = b"\x55" * 69 + b"\x54\x76\x96"

PA_0DBM = const(0x50)  # 0 dBm at 868 MHz: SWRS061 table 39 (checked against its transcription in
# RIOT cc110x_settings.h: 868 MHz -30/-20/-15/-10/0/5/7/10 dBm = 03 0F 1E 27 50 81 CB C2); 0xC0 is the maximum


def rssi_dbm(raw):
    """RSSI register -> dBm (SWRS061 17.3): signed half-dB steps minus the RSSI offset, 74 dB at
    868 MHz for every data rate in table 31."""
    if raw >= 128:
        raw -= 256
    return (raw >> 1) - 74
