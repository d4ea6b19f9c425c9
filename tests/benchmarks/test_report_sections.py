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
