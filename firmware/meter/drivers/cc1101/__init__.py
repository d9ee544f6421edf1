# TI CC1101 sub-GHz transceiver driver for wireless M-Bus (see core.py).
