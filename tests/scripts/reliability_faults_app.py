"""An application using the library the fault plugins patch (tests/plugins/fault_plugin).

Prints what the library returns and the exception it raises, then exits with status 4.
"""

import sys

import fault_target

print(fault_target.greet("world"))
try:
    fault_target.fail()
except ValueError as exc:
    print("caught %s: %s" % (type(exc).__name__, exc))
sys.exit(4)
