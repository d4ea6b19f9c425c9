"""A "library" that leaves a mark when imported (the file named by INFO_IMPORT_MARKER)."""

import os

_marker = os.environ.get("INFO_IMPORT_MARKER")
if _marker:
    with open(_marker, "w") as fh:
        fh.write("imported\n")
