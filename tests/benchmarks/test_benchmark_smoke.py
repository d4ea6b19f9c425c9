"""The benchmark harness runs end to end (`benchmarks/run.py --smoke`) from the test
environment itself (no venvs, no PyPI), writes a report with a row per scenario, and
the agent delivers every span it creates. Timing figures are never asserted."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "benchmarks" / "run.py"
SCENARIOS = ["startup-pass", "startup-imports", "flask-trivial", "flask-realistic",
             "django-orm", "fastapi-trivial", "fastapi-realistic", "span-cost", "export-throughput",
             "requests-call", "httpx-call", "sql-statement"]


@pytest.mark.timeout(300)
def test_benchmark_smoke(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--python-from-current-env", "--out", str(out)],
        cwd=str(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-4000:]

    md = out.read_text()
    summary = md.split("## Summary", 1)[1].split("## Targets", 1)[0]
    for sid in SCENARIOS:
        assert re.search(r"^\| %s \|" % re.escape(sid), summary, re.M), "no row for " + sid
    assert "## Targets" in md and "## Delivery" in md

    data = json.loads(out.with_suffix(".json").read_text())
    this = next(c for c in data["contenders"] if c["name"] == "this")
    assert not this["skipped"], this["skipped"]
    scen = {s["id"]: s for s in data["scenarios"]}

    # The manual-API workloads know exactly how many spans they created.
    for sid in ("span-cost", "export-throughput"):
        res = scen[sid]["results"]["this"]
        assert "error" not in res, res.get("error")
        fig = res["figures"]
        assert fig["created"] > 0
        assert fig["delivered"] == fig["created"], (sid, fig)

    # Wherever the agent ran, it delivered what the workload must produce.
    for sid, sc in scen.items():
        res = sc["results"].get("this")
        if sc["skipped"] or res is None:
            continue
        assert "error" not in res, (sid, res.get("error"))
        dv = res.get("delivery")
        if dv:
            assert dv["status"] == "ok", (sid, dv)
