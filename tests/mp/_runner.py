# Runs one MicroPython test module inside the target interpreter and prints one result line per
# test function. Driven by tests/conftest.py; not meant to be run by hand (but it can be:
#   MICROPYPATH=.frozen:firmware:tests/mp build/unix32/micropython tests/mp/_runner.py mpt_foo [name]).
import sys
import gc

try:
    import io
except ImportError:
    io = None


def _fmt_exc(e):
    if io is not None:
        buf = io.StringIO()
        sys.print_exception(e, buf)
        return buf.getvalue()
    return repr(e)


def main():
    modname = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    try:
        mod = __import__(modname)
    except Exception as e:
        print("@@IMPORTERROR " + _fmt_exc(e).replace("\n", "\\n"))
        return
    names = [n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]
    if hasattr(mod, "TEST_ORDER"):
        names = [n for n in mod.TEST_ORDER if n in names] + [n for n in names if n not in mod.TEST_ORDER]
    else:
        names.sort()
    for n in names:
        if only and n != only:
            continue
        print("@@BEGIN " + n)
        gc.collect()
        try:
            getattr(mod, n)()
            print("@@PASS " + n)
        except Exception as e:
            if type(e).__name__ == "SkipTest":
                print("@@SKIP " + n + " " + str(e).replace("\n", " "))
            else:
                print("@@FAIL " + n + " " + _fmt_exc(e).replace("\n", "\\n"))
    print("@@DONE")


main()
