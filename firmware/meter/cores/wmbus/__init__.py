# Wireless M-Bus (EN 13757-4) protocol core, sans-I/O, one module per concern:
#   mode.py   mode and format from the first bytes after sync (T1, C1 A/B, late-synced C1 B, S1),
#             the packet length on air for the radio driver, Manchester coding (3-of-6 is native)
#   frame.py  format A/B block CRCs (checked and stripped in place, or built), the Frame view
#   link.py   the link layer: read() a raw packet into a checked Frame, filters, duplicates,
#             statistics; encode() a frame for the air
# The transport, ELL/AFL and application layers come on top of Frame.ci_off .. Frame.end.
