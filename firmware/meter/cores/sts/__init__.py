# STS prepayment tokens (IEC 62055-41), meter side: a sans-I/O token core.
#
# Modules, one concern each (imports run downwards only):
#   result    the 15 result codes and their display names
#   digits    20 decimal digits <-> class + 64-bit block (the class-bit transposition)
#   amount    the 16-bit amount field (2-bit exponent, 14-bit mantissa)
#   crc       the token CRC (CRC-16/MODBUS over class..amount, bytes swapped)
#   sta       EA07, the Standard Transfer Algorithm (decryption only)
#   cipher    EA07 / EA09 (DES) / EA11 (MISTY1) dispatch
#   keyrec    the decoder key record (key + KT, KRN, TI, KEN, SGC, base date) and its record
#   token     the decode pipeline: digits -> block -> decrypt -> CRC -> typed fields
#   tid       the TID memory (Used / Old rules) and the base dates
#   keychange the key change token sets (1st/2nd, 3rd/4th for 128-bit keys)
#   lockout   the bad-token lockout with a doubling time
#   decoder   the state machine a meter runs: enter(digits, now, key) -> (result, actions)
# The owner (the credit service) persists state and carries out actions; see decoder.py.
