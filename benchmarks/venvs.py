"""Virtual environments for the contenders, built on demand under benchmarks/.venvs/,
and the Runtime (interpreter, bin dir, resolved launcher, env) each contender runs with."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_ROOT = HERE / ".venvs"
STAMP = ".bench-stamp.json"

VERSION_DISTS = [
    "flask", "django", "gunicorn", "sqlalchemy", "requests", "fastapi", "starlette", "uvicorn", "httpx",
    "otel-autoinstrument",
    "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-distro",
    "opentelemetry-instrumentation", "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-proto", "protobuf", "ddtrace",
]


@dataclass
class Runtime:
    contender: object  # contenders.Contender
    python: str
    bindir: str
    command_prefix: List[str]  # launcher resolved to a path ([] for none)
    base_env: Dict[str, str] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    skipped: Optional[str] = None  # reason, when it cannot run

    @property
    def name(self):
        return self.contender.name

    def env(self, extra):
        env = dict(self.base_env)
        env.update(extra)
        env.update(self.contender.env)
        return env

    def cmd(self, program, *args):
        """LAUNCHER PROGRAM ARGS with PROGRAM taken from the contender's bin dir."""
        exe = os.path.join(self.bindir, program)
        if not os.path.exists(exe):
            exe = shutil.which(program, path=self.bindir) or program
        return list(self.command_prefix) + [exe] + list(args)


def repo_hash(repo=REPO):
    h = hashlib.sha256()
    files = [repo / n for n in ("pyproject.toml", "setup.py", "setup.cfg") if (repo / n).exists()]
    for pkg in ("otel_autoinstrument", "instrumentors"):
        if (repo / pkg).is_dir():
            files += sorted((repo / pkg).rglob("*.py"))
    for f in files:
        h.update(str(f.relative_to(repo)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _pip(py, args, log):
    cmd = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + args
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        noise = "is ignored: it is neither a file nor a directory"
        tail = [ln for ln in r.stdout.splitlines() if noise not in ln][-30:]
        raise RuntimeError("pip failed (%d):\n%s" % (r.returncode, "\n".join(tail)))


def _install_repo(py, log):
    """pip install <repo>, from a scratch copy so no build/ or *.egg-info lands in the tree."""
    with tempfile.TemporaryDirectory(prefix="bench-repo-") as tmp:
        dst = Path(tmp) / "repo"
        shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(
            ".git", "benchmarks", ".venvs", "build", "dist", "*.egg-info", "__pycache__",
            ".pytest_cache", ".tox", ".nox", "node_modules"))
        _pip(py, ["--force-reinstall", "--no-deps", str(dst)], log)
        _pip(py, [str(dst)], log)  # its dependencies


def ensure_venv(key, spec, log=print):
    """Create/refresh benchmarks/.venvs/<key>; returns its python path."""
    d = VENV_ROOT / key
    py = d / "bin" / "python"
    want = {"requirements": spec.requirements, "python": sys.version.split()[0]}
    try:
        have = json.loads((d / STAMP).read_text())
    except Exception:
        have = {}
    if {k: have.get(k) for k in want} != want or not py.exists():
        log("building venv %s (%s)" % (key, ", ".join(spec.requirements)))
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(d)], check=True)
        _pip(str(py), list(spec.requirements), log)
        have = dict(want)
        (d / STAMP).write_text(json.dumps(have))
    if spec.install_repo:
        if not (REPO / "pyproject.toml").exists() and not (REPO / "setup.py").exists():
            raise RuntimeError("the repo at %s is not installable yet (no pyproject.toml)" % REPO)
        rh = repo_hash()
        if have.get("repo_hash") != rh:
            log("installing the repo into venv %s (repo changed)" % key)
            _install_repo(str(py), log)
            have["repo_hash"] = rh
            (d / STAMP).write_text(json.dumps(have))
    return str(py)


def clean_env(bindir, keep_pythonpath=False):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTEL_") and k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP",
                                                       "PYTHONDONTWRITEBYTECODE")}
    if not keep_pythonpath:
        env.pop("PYTHONPATH", None)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def versions_of(python):
    code = ("import json, importlib.metadata as m, platform\n"
            "out = {'python': platform.python_version()}\n"
            "for d in %r:\n"
            "    try: out[d] = m.version(d)\n"
            "    except Exception: pass\n"
            "print(json.dumps(out))" % (VERSION_DISTS,))
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                           cwd=tempfile.gettempdir())  # not the repo: its *.egg-info would count
        return json.loads(r.stdout)
    except Exception as exc:
        return {"error": repr(exc)}


def runtimes(contenders, venvs, current_env=False, log=print):
    """One Runtime per contender (skipped ones carry a reason)."""
    out = []
    for c in contenders:
        if current_env:
            py = sys.executable
            bindir = os.path.dirname(py)
        else:
            try:
                py = ensure_venv(c.venv, venvs[c.venv], log)
            except Exception as exc:
                out.append(Runtime(c, "", "", [], skipped="venv %s failed: %s" % (c.venv, exc)))
                continue
            bindir = os.path.dirname(py)
        prefix = []
        if c.launcher:
            exe = os.path.join(bindir, c.launcher[0])
            if not os.path.exists(exe):
                exe = shutil.which(c.launcher[0]) if current_env else None
            if not exe:
                out.append(Runtime(c, py, bindir, [], skipped="launcher %r not installed in %s"
                                   % (c.launcher[0], "the current environment" if current_env
                                      else "venv " + c.venv)))
                continue
            prefix = [exe] + list(c.launcher[1:])
        rt = Runtime(c, py, bindir, prefix, clean_env(bindir, keep_pythonpath=current_env))
        rt.versions = versions_of(py)
        out.append(rt)
    return out


def sink_python(current_env=False, venvs=None, log=print):
    """An interpreter for sink.py: the 'sink' venv (opentelemetry-proto), or this one."""
    if current_env or not venvs or "sink" not in venvs:
        return sys.executable
    try:
        return ensure_venv("sink", venvs["sink"], log)
    except Exception as exc:
        log("sink venv failed (%s); the sink uses its built-in decoder" % exc)
        return sys.executable
