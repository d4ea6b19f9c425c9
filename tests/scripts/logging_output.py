"""Logging as applications do it, printing what they print; run plain and under otel-run,
the output (stdout, stderr and the log file) must be the same bytes.

Modes (argv[1]):
  lastresort   no configuration: WARNING and above go through logging.lastResort
  basicconfig  some records first, then basicConfig() (which must still configure),
               then a file handler (argv[2]) and a library that adds its console
               handler only when the root logger has none (as Werkzeug does)
"""

import logging
import sys

mode = sys.argv[1]
app = logging.getLogger("app")

if mode == "lastresort":
    app.info("not shown: below the root's WARNING")
    app.warning("shown by lastResort")
    try:
        {}["missing"]
    except KeyError:
        app.exception("lookup failed")
    logging.getLogger("app.child").error("child error %d", 3)
    print("root handlers:", logging.getLogger().handlers)
    print("lastResort level:", logging.lastResort.level)

elif mode == "basicconfig":
    app.warning("before basicConfig")
    logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s", level=logging.INFO)
    print("root handlers after basicConfig:", len(logging.getLogger().handlers))
    app.info("after basicConfig")
    file_handler = logging.FileHandler(sys.argv[2], encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    app.addHandler(file_handler)
    app.warning("to the file and the console")
    lib = logging.getLogger("library")
    lib.propagate = False
    if not logging.getLogger().handlers or not lib.handlers:  # the library's own check
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(logging.Formatter("library> %(message)s"))
        lib.addHandler(console)
    lib.warning("library message")
    logging.warning("module-level warning")
else:
    sys.exit("unknown mode " + mode)
