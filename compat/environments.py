"""Per library: its sdist (where the tests come from) and a venv with the library at
the pinned version, its test dependencies and the project itself.

Both live under the work directory and are reused while what built them is unchanged
(a stamp file records the requirements and a hash of the agent's sources), so a second
run of the script only runs tests.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAMP = "compat-stamp.json"


def log(message):
    print(message, flush=True)


def _run(cmd, **kwargs):
    log("  $ " + " ".join(str(c) for c in cmd))
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        # pip's noise about this machine's extra index folders is not the error
        tail = [ln for ln in result.stdout.splitlines() if "is ignored: it is neither" not in ln][-40:]
        raise RuntimeError("command failed (%d): %s\n%s" % (result.returncode, " ".join(map(str, cmd)),
                                                            "\n".join(tail)))
    return result.stdout


# -- the sources of the tests ---------------------------------------------------------


def sources(lib, workdir):
    """The unpacked sdist of ``lib`` (downloading it once); returns its root folder."""
    root = workdir / "src" / lib.key
    if (root / STAMP).exists():
        return root
    downloads = workdir / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = _find_sdist(downloads, lib)
    if archive is None:
        # --no-binary for the library only: the sdist is the same file as with
        # ":all:", but the build backends pip needs to read its metadata come as
        # wheels (":all:" compiles Cython from source for SQLAlchemy: minutes).
        _run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
              "--no-binary", lib.name, "-d", str(downloads), "%s==%s" % (lib.name, lib.version)])
        archive = _find_sdist(downloads, lib)
        if archive is None:
            raise RuntimeError("pip download gave no sdist for %s %s" % (lib.name, lib.version))
    shutil.rmtree(root, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        _unpack(archive, Path(tmp))
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise RuntimeError("%s: expected one top folder, found %s" % (archive.name, tops))
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tops[0]), str(root))
    (root / STAMP).write_text(json.dumps({"sdist": archive.name}))
    return root


def _find_sdist(folder, lib):
    prefixes = {lib.name.lower().replace("-", "_"), lib.name.lower().replace("_", "-")}
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        for prefix in prefixes:
            stem = "%s-%s" % (prefix, lib.version)
            if name in (stem + ".tar.gz", stem + ".zip"):
                return path
    return None


def _unpack(archive, dest):
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
        return
    with tarfile.open(archive) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(dest, filter="data")  # no absolute paths, links out, devices
        else:
            t.extractall(dest)


# -- the virtual environment ----------------------------------------------------------


def agent_hash():
    """Changes when anything pip would install from this repository changes."""
    h = hashlib.sha256()
    files = [REPO / "pyproject.toml"]
    for package in ("otel_autoinstrument", "instrumentors"):
        files += sorted((REPO / package).rglob("*.py"))
    for f in files:
        h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def venv(lib, runner, workdir, python=sys.executable):
    """The venv of ``lib`` (built or refreshed as needed); returns its ``bin`` folder."""
    folder = workdir / "venvs" / lib.key
    bindir = folder / "bin"
    requirements = [lib.requirement] + list(runner.requires) + list(lib.requires)
    want = {"requirements": requirements, "python": _python_version(python)}
    try:
        have = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        have = {}
    if {k: have.get(k) for k in want} != want or not (bindir / "python").exists():
        log("building the venv of %s %s" % (lib.name, lib.version))
        shutil.rmtree(folder, ignore_errors=True)
        _run([python, "-m", "venv", str(folder)])
        _pip(bindir, ["--upgrade", "pip"])
        _pip(bindir, requirements)
        have = dict(want)
        (folder / STAMP).write_text(json.dumps(have))
    digest = agent_hash()
    if have.get("agent") != digest:
        log("installing otel-autoinstrument into the venv of %s (sources changed)" % lib.name)
        _install_repo(bindir, lib, workdir)
        have["agent"] = digest
        (folder / STAMP).write_text(json.dumps(have))
    return bindir


def _python_version(python):
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _pip(bindir, args):
    _run([str(bindir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"] + list(args))


def _install_repo(bindir, lib, workdir):
    """``pip install <repo root>``, from a scratch copy (so no build/ or *.egg-info lands in
    the work tree) and with the library held at its pinned version (the agent depends on
    requests: it must not move the requests under test)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
            ".git", ".work", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
            "benchmarks", "tests", ".hypothesis"))
        pin = Path(tmp) / "constraints.txt"
        pin.write_text("%s==%s\n" % (lib.name, lib.version))
        _pip(bindir, ["--force-reinstall", "--no-deps", str(copy)])
        _pip(bindir, ["-c", str(pin), str(copy)])


def versions(bindir, names):
    """``{distribution: version}`` as installed in the venv."""
    code = ("import json, importlib.metadata as m\nout = {}\nfor d in %r:\n"
            "    try: out[d] = m.version(d)\n    except Exception: pass\nprint(json.dumps(out))" % (list(names),))
    out = subprocess.run([str(bindir / "python"), "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir())
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}
