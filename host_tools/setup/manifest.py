# Frozen manifest for our Unix interpreters: only asyncio (the +ds source lacks micropython-lib).
include("$(MPY_DIR)/extmod/asyncio")
