"""Plugin distributions installed with pip into a folder of their own (a "site"), the
way a user installs a plugin next to the agent; put on PYTHONPATH, it registers them.

A site is installed once per content of its sources (tests/.cache/, ignored by git): a
cold cache runs the real ``pip install --no-deps --no-build-isolation --target``."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from support.processes import TESTS_DIR, base_env

CACHE = TESTS_DIR / ".cache"


def _digest(sources):
    digest = hashlib.sha256(sys.version.encode())
    for root in sources:
        digest.update(str(root.name).encode() + b"\0")
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not {"build", "__pycache__"} & set(rel.parts) and ".egg-info" not in str(rel):
                digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def installed_site(label, sources):
    """The folder ``sources`` (distribution folders) are pip-installed into."""
    site = CACHE / ("%s-%s" % (label, _digest(sources)))
    if (site / ".complete").exists():
        return site
    CACHE.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix=label + "-", dir=str(CACHE))
    try:
        copies = []
        for root in sources:   # build from a copy: pip leaves build/ in the source
            copy = os.path.join(work, root.name)
            shutil.copytree(str(root), copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            copies.append(copy)
        target = os.path.join(work, "site")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
             "--no-build-isolation", "--target", target] + copies,
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env=base_env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
        assert result.returncode == 0, result.stdout + result.stderr
        open(os.path.join(target, ".complete"), "w").close()
        try:
            os.replace(target, str(site))
        except OSError:
            assert (site / ".complete").exists()   # another run installed it meanwhile
        for old in CACHE.glob(label + "-*"):       # installs of earlier sources
            if old != site and old.name != os.path.basename(work):
                shutil.rmtree(str(old), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return site
