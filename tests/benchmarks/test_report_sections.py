"""A regenerated BENCHMARKS.md keeps its hand-written sections (profiles made apart from
the harness run), in place before "How it was measured"."""

import importlib.util
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "benchmarks" / "report.py"


def _report():
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hand_written_sections_survive_regeneration():
    report = _report()
    previous = ("# Benchmarks\n\nold figures\n\n## Where the time goes\n\nprofiled by hand\n\n| a | b |\n\n"
                "## How it was measured\n\nold method\n")
    rendered = "# Benchmarks\n\nnew figures\n\n## How it was measured\n\nnew method\n"
    kept = report.keep_hand_written(previous, rendered)
    assert kept == ("# Benchmarks\n\nnew figures\n\n## Where the time goes\n\nprofiled by hand\n\n| a | b |\n\n"
                    "## How it was measured\n\nnew method\n")
    assert report.keep_hand_written(previous, kept) == kept  # not twice
    assert report.keep_hand_written("# Benchmarks\n\nnothing by hand\n", rendered) == rendered


def _scenario(sid, results, unit="µs"):
    return {"id": sid, "unit": unit, "results": {n: {"value": v, "added": None, "figures": {}}
                                                 for n, v in results.items()}}


def test_contenders_of_some_scenarios_only_are_reported_and_judged():
    """The API scenarios' own contenders (``this+api``, ``bare+api``) are columns of the
    report, the API span is judged against the native one, and a scenario the official
    agent takes no part in gets no "1/5 of the official agent's" row."""
    report = _report()
    results = {
        "contenders": [{"name": "bare", "role": "baseline"}, {"name": "this", "role": "subject"},
                       {"name": "official", "role": "reference"}],
        "scenarios": [_scenario("api-span-cost", {"this": 6.0, "this+api": 8.5, "official": 45.0}),
                      _scenario("api-import-api", {"bare+api": 40.0, "this+api": 99.0}, unit="ms")],
    }
    assert report._all_names(results, ["bare", "this", "official"]) == [
        "bare", "this", "official", "this+api", "bare+api"]
    rows = {label: (figure, verdict) for label, figure, verdict in report.targets(results)}
    assert rows["a span through the OpenTelemetry API on this core ≤ 3 µs over a native one"] == (
        "8.50 vs 6.00 µs (+2.50)", "met")
    assert rows["api-span-cost: added cost ≤ 1/5 of the official agent's"][1] == "met"
    assert not [label for label in rows if label.startswith("api-import-api")]
