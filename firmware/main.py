# Entry point on every board: pick the board adapter, build the app, run it.
# On a device, `board.py` is the board adapter copied from boards/<name>/ by the deploy tool (or
# frozen into the image); in the simulation the rig puts boards/unix_sim/ on the path.
import asyncio

try:  # A/B firmware slots (firmware/bootsel.py, services/update.py): put the active slot on the path
    import bootsel
    bootsel.select()
except ImportError:  # a frozen image or a plain source tree: no slots
    pass
import board
from meter.app import App


def main():
    b = board.make()
    app = App(b)
    if hasattr(b, "attach"):
        # a simulation board drives the app through a narrow hook object (query, command,
        # fast-forward); a product image has no such board and leaves meter/app/sim.py out
        from meter.app.sim import SimHooks
        b.attach(SimHooks(app))
    asyncio.run(app.run())


main()
