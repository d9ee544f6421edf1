# TI CC1101 register map and the wM-Bus register sets.
# Sources: CC1101 datasheet SWRS061I (section numbers below), TI DN/AN for wM-Bus on the CC1101:
# AN067 "Wireless M-Bus Implementation with CC1101 and MSP430" (SWRA234: S and T mode settings)
# and SWRA522 (C-mode and T-mode reception with one register set), CC1101 errata SWRZ020.
# Values derived here from the datasheet formulas with fXOSC = 26 MHz; where a value is a
# SmartRF Studio / app-note recommendation with no formula, the comment says so.
from micropython import const

# Register sets as bytes literals (constants in ROM when frozen, nothing on a small heap); the
# SPI header, strobes and status registers live in core.py, their only user. Addresses: SWRS061
# table 43; GDOx signals: table 41 (0x00 RX FIFO threshold, 0x02 TX FIFO threshold, 0x06 sync
# word .. end of packet, 0x2E high impedance).

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
RX_TC = (  # adjacent bytes literals: one constant, in ROM when frozen
    b"\x06"  # 0x00 IOCFG2: GDO2 = sync received .. end of packet (SWRS061 table 41, 0x06)
    b"\x2e"  # 0x01 IOCFG1: GDO1 is SO; tri-state when CSn high (reset value 0x2E)
    b"\x00"  # 0x02 IOCFG0: GDO0 = RX FIFO at or above threshold (0x00)
    b"\x00"  # 0x03 FIFOTHR: FIFO_THR = 0 -> RX 4 bytes while a packet's first bytes are awaited,
           #      so GDO0 calls the service as soon as the length can be read (a 14-byte C1
           #      frame lasts 1.6 ms: the fixed-length switch must come before its end); then
           #      FIFOTHR_BULK (table 44)
    b"\x54"  # 0x04 SYNC1: sync 0x543D = "010101" (preamble tail) + T sync "0000111101"; also the
    b"\x3d"  # 0x05 SYNC0  C-mode sync word (EN 13757-4; SWRA522)
    b"\xff"  # 0x06 PKTLEN: set per packet (mod 256) once the L-field is known (SWRS061 15.3)
    b"\x00"  # 0x07 PKTCTRL1: PQT = 0, no CRC autoflush, no appended status, no address check
    b"\x02"  # 0x08 PKTCTRL0: no whitening, FIFO mode, no CRC (wM-Bus has block CRCs), infinite
           #      length at the start of every packet (SWRS061 15.3, "packet length > 255")
    b"\x00"  # 0x09 ADDR: unused
    b"\x00"  # 0x0A CHANNR: channel 0
    b"\x08"  # 0x0B FSCTRL1: IF = fXOSC / 2**10 * 8 = 203 kHz (SmartRF Studio for a 325 kHz filter)
    b"\x00"  # 0x0C FSCTRL0: no frequency offset
    b"\x21"  # 0x0D FREQ2 \
    b"\x6b"  # 0x0E FREQ1  } 0x216BD1 = 868.950 MHz
    b"\xd1"  # 0x0F FREQ0 /
    b"\x5b"  # 0x10 MDMCFG4: CHANBW_E = 1, CHANBW_M = 1 (325 kHz), DRATE_E = 11
    b"\xf8"  # 0x11 MDMCFG3: DRATE_M = 248 -> 99.976 kBaud
    b"\x02"  # 0x12 MDMCFG2: DC filter on, 2-FSK, no Manchester, SYNC_MODE = 2: 16/16 sync bits
    b"\x22"  # 0x13 MDMCFG1: no FEC, NUM_PREAMBLE = 2 (4 bytes; TX: 16 + 3 "01" pairs in 0x54 =
           #      the 19 pairs mode T needs), CHANSPC_E = 2 (reset)
    b"\xf8"  # 0x14 MDMCFG0: CHANSPC_M (reset; one channel used)
    b"\x47"  # 0x15 DEVIATN: E = 4, M = 7 -> 47.6 kHz, between C (45 kHz) and T (50 kHz) nominal
    b"\x07"  # 0x16 MCSM2: no RX timeout (reset)
    b"\x0c"  # 0x17 MCSM1: CCA always, RXOFF_MODE = RX (back to sync search after a packet, so a
           #      back-to-back frame is not missed), TXOFF_MODE = IDLE
    b"\x08"  # 0x18 MCSM0: FS_AUTOCAL = 0, PO_TIMEOUT = 2 (~150 us). The driver calibrates on
           #      start_rx()/transmit() (MCSM0_CAL for that one strobe), so recovering from an
           #      overflow is IDLE -> RX in ~90 us instead of ~800 us with calibration
    b"\x2e"  # 0x19 FOCCFG: freq. offset comp. gated by CS, pre-sync 2K, post-sync K/2, limit BW/4
    b"\xbf"  # 0x1A BSCFG: bit sync 3KI/3KP pre-sync, KI/2 KP post-sync, BS_LIMIT = +-12.5 % (T1)
    b"\x43"  # 0x1B AGCCTRL2: MAX_DVGA_GAIN = 1, LNA max, MAGN_TARGET 33 dB (SmartRF / AN067 T mode)
    b"\x40"  # 0x1C AGCCTRL1: LNA priority, carrier sense thresholds off
    b"\x91"  # 0x1D AGCCTRL0: hysteresis medium, 16 samples wait, normal freeze, filter 16 (AN067)
    b"\x87"  # 0x1E WOREVT1 (reset; WOR unused)
    b"\x6b"  # 0x1F WOREVT0 (reset)
    b"\xfb"  # 0x20 WORCTRL: RC oscillator off (SmartRF)
    b"\xb6"  # 0x21 FREND1: RX front end currents (SmartRF / AN067)
    b"\x10"  # 0x22 FREND0: PA_POWER = 0 -> PATABLE[0] (no ramping)
    b"\xea"  # 0x23 FSCAL3 \
    b"\x2a"  # 0x24 FSCAL2  } synthesizer calibration (SmartRF / AN067; results overwritten by SCAL)
    b"\x00"  # 0x25 FSCAL1 |
    b"\x1f"  # 0x26 FSCAL0 /
    b"\x41"  # 0x27 RCCTRL1 (reset)
    b"\x00"  # 0x28 RCCTRL0 (reset)
    b"\x59"  # 0x29 FSTEST (reset)
    b"\x7f"  # 0x2A PTEST (reset)
    b"\x3f"  # 0x2B AGCTEST (reset)
    b"\x81"  # 0x2C TEST2 \  better sensitivity at <= 100 kBaud (SWRS061 table 43 note; SmartRF)
    b"\x35"  # 0x2D TEST1 /
    b"\x09"  # 0x2E TEST0: VCO_SEL_CAL_EN = 0 (SmartRF for 868 MHz)
)

# Patches on top of RX_TC, bytes of (address, value) pairs, for the other register sets.
# S1 receive: 868.3 MHz -> 868.3e6 * 2**16 / 26e6 = 2188650.3 -> 0x21656A = 868.299866 MHz;
# 32.768 kchip/s -> E = 10, M = 74: 32.730 kBaud (-0.12 %); filter E = 1, M = 2 -> 271 kHz;
# deviation +-50 kHz -> E = 5, M = 0: 50.8 kHz; sync: the last 16 chips of the S sync word
# "000111011010010110" = 0x7696 (AN067); the frame is Manchester coded and decoded in software.
RX_S = (b"\x0d\x21\x0e\x65\x0f\x6a"  # FREQ2..FREQ0 = 0x21656A
        b"\x10\x6a\x11\x4a"  # MDMCFG4, MDMCFG3: filter and data rate
        b"\x04\x76\x05\x96"  # SYNC1, SYNC0
        b"\x15\x50\x1a\x6d")  # DEVIATN; BSCFG: BS_LIMIT +-3.125 %
# transmit: IOCFG0 (0x02) = 0x02, GDO0 follows the TX FIFO threshold (refill when it drops below
# 49 bytes), FIFOTHR (0x03) = FIFOTHR_BULK; DEVIATN (0x15) per mode
TX_T1 = b"\x15\x50\x02\x02\x03\x03"  # T: +-50 kHz: 50.8 kHz
TX_C1 = b"\x15\x46\x02\x02\x03\x03"  # C: +-45 kHz: 44.4 kHz
# S1 transmit: the chip sends no preamble/sync (MDMCFG2 (0x12) SYNC_MODE = 0); the FIFO carries
# the S1 header: 279 "01" pairs (S1 needs n >= 279) and the 18-chip sync word, 576 chips = 72
# bytes exactly ("U" = 0x55 = 01010101).
TX_S = RX_S + b"\x12\x00\x02\x02\x03\x03"
S1_HEADER = (b"UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU"
             b"\x54\x76\x96")

PA_0DBM = const(0x50)  # 0 dBm at 868 MHz: SWRS061 table 39 (checked against its transcription in
# RIOT cc110x_settings.h: 868 MHz -30/-20/-15/-10/0/5/7/10 dBm = 03 0F 1E 27 50 81 CB C2); 0xC0 is the maximum


def rssi_dbm(raw):
    """RSSI register -> dBm (SWRS061 17.3): signed half-dB steps minus the RSSI offset, 74 dB at
    868 MHz for every data rate in table 31."""
    if raw >= 128:
        raw -= 256
    return (raw >> 1) - 74
