"""Render results (the dict run.py builds and saves as JSON) to Markdown."""

# scenario id, what is compared, limit, label.  "added" = value minus bare (paired
# medians); "value" = the figure itself.  Units are the scenario's.
TARGETS = [
    ("startup-pass", "added", 25.0, "start-up `python -c pass` ≤ +25 ms over bare"),
    ("startup-imports", "added", 40.0, "start-up `import flask, requests, sqlalchemy` ≤ +40 ms"),
    # Round 2's performance targets (trivial Django has no scenario of its own).
    ("flask-trivial", "added", 40.0, "trivial Flask request ≤ +40 µs"),
    ("django-orm", "added", 60.0, "Django ORM view ≤ +60 µs"),
    ("flask-realistic", "added", 150.0, "realistic Flask route ≤ +150 µs"),
    ("span-cost", "value", 2.5, "one manual span ≤ 2.5 µs"),
    ("sql-statement", "added", 12.0, "one SQL statement ≤ +12 µs"),
    ("requests-call", "added", 30.0, "one requests call ≤ +30 µs"),
    ("metrics-per-request", "value", 10.0, "metrics: the three duration histograms ≤ +10 µs per request"),
]
EXPORT_RATE_TARGET = 100000  # spans/s delivered, warm, flat out
API_SPAN_MARGIN = 3.0  # µs: a span through the OpenTelemetry API on this core vs a native one
OFFICIAL_FRACTION = 0.2  # this project's added cost ≤ 1/5 of the official agent's
# Scenarios whose headline figure is itself the cost compared (no baseline subtracted).
VALUE_SCENARIOS = frozenset(("span-cost", "api-span-cost", "metrics-per-request", "runtime-metrics"))


def _fmt(v, fmt="%.1f"):
    if v is None:
        return "—"
    try:
        return fmt % v
    except TypeError:
        return str(v)


def _num(v):
    """A compact number: 3 significant-ish figures."""
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _by_role(results, role):
    for c in results["contenders"]:
        if c["role"] == role and not c.get("skipped"):
            return c["name"]
    return None


def _delivery_tag(res):
    dv = (res or {}).get("delivery")
    if not dv or dv["status"] == "ok":
        return ""
    if dv["status"] == "NOTHING delivered":
        return " ⚠ NOTHING delivered"
    parts = []
    if dv["dropped_spans"]:
        parts.append("%d/%d spans" % (dv["spans"], dv["expected_spans"]))
    if dv["dropped_logs"]:
        parts.append("%d/%d logs" % (dv["logs"], dv["expected_logs"]))
    return " ⚠ DROPPED (%s delivered)" % ", ".join(parts)


def _cell(sc, name):
    res = sc["results"].get(name)
    if res is None:
        return "—"
    if "value" not in res:
        return "error"
    txt = "%s %s" % (_num(res["value"]), sc["unit"])
    if res.get("added") is not None:
        txt += " (%s)" % (("%+.1f" if abs(res["added"]) < 10 else "%+.0f") % res["added"])
    return txt + _delivery_tag(res)


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def _added_ratio(sc, subj, ref):
    a, b = sc["results"].get(subj) or {}, sc["results"].get(ref) or {}
    if sc["id"] in VALUE_SCENARIOS:
        x, y = a.get("value"), b.get("value")
    else:
        x, y = a.get("added"), b.get("added")
    if x is None or y is None:
        return None
    if y <= 0:
        return None
    return x / y


def targets(results):
    """[(label, figure text, verdict)]"""
    subj, ref = _by_role(results, "subject"), _by_role(results, "reference")
    scen = {s["id"]: s for s in results["scenarios"]}
    rows = []

    def subject_res(sid):
        sc = scen.get(sid)
        if not sc or sc.get("skipped") or not subj:
            return sc, None, "n/a (not run)"
        res = sc["results"].get(subj)
        if not res or "value" not in res:
            return sc, None, "MISSED (%s)" % ((res or {}).get("error", "no result")[:80])
        dv = res.get("delivery")
        if dv and dv["status"] != "ok":
            return sc, res, "MISSED (%s)" % _delivery_tag(res).strip(" ⚠")
        return sc, res, None

    for sid, what, limit, label in TARGETS:
        sc, res, verdict = subject_res(sid)
        fig = "—"
        if res is not None:
            v = res.get(what)
            fig = "%s %s" % (_fmt(v, "%+.1f" if what == "added" else "%.2f"), sc["unit"])
            if verdict is None:
                verdict = "n/a (no baseline)" if v is None else ("met" if v <= limit else "MISSED")
        rows.append((label, fig, verdict))

    for sc in results["scenarios"]:
        sid = sc["id"]
        if sid == "export-throughput":
            continue
        label = "%s: added cost ≤ 1/5 of the official agent's" % sid
        _, res, verdict = subject_res(sid)
        if ref and ref not in sc["results"]:
            continue  # a scenario the official agent takes no part in (the api-* ones)
        if not ref:
            rows.append((label, "—", "n/a (official agent not run)"))
            continue
        r = _added_ratio(sc, subj, ref)
        key = "value" if sid in VALUE_SCENARIOS else "added"
        a = (sc["results"].get(subj) or {}).get(key)
        b = (sc["results"].get(ref) or {}).get(key)
        fig = "%s vs %s %s" % (_fmt(a), _fmt(b), sc["unit"])
        if verdict is None:
            if a is None or b is None:
                verdict = "n/a (missing figure)"
            elif r is None:
                verdict = "n/a (official added ≤ 0: noise)"
            else:
                fig += " (%.2f)" % r
                verdict = "met" if r <= OFFICIAL_FRACTION else "MISSED"
        rows.append((label, fig, verdict))

    sc = scen.get("export-throughput")
    label = "export: higher delivered rate and fewer drops than the official agent"
    if not sc or sc.get("skipped") or not subj:
        rows.append((label, "—", "n/a (not run)"))
    elif not ref:
        rows.append((label, "—", "n/a (official agent not run)"))
    else:
        a, b = sc["results"].get(subj) or {}, sc["results"].get(ref) or {}
        fa, fb = a.get("figures") or {}, b.get("figures") or {}
        if "value" not in a or "value" not in b:
            rows.append((label, "—", "MISSED (error)" if "value" not in a else "n/a (official errored)"))
        else:
            fig = "%s vs %s spans/s; dropped %d vs %d" % (_num(a["value"]), _num(b["value"]),
                                                        fa.get("dropped", 0), fb.get("dropped", 0))
            ok = a["value"] > b["value"] and (fa.get("dropped", 0) < fb.get("dropped", 0)
                                              or fa.get("dropped", 0) == 0)
            rows.append((label, fig, "met" if ok else "MISSED"))
    if sc and not sc.get("skipped") and subj:
        a = sc["results"].get(subj) or {}
        if "value" in a:
            rows.append(("export: ≥ %s spans/s delivered, warm, flat out, nothing dropped" % _num(EXPORT_RATE_TARGET),
                         "%s spans/s, dropped %d" % (_num(a["value"]), (a.get("figures") or {}).get("dropped", 0)),
                         "met" if a["value"] >= EXPORT_RATE_TARGET and not (a.get("figures") or {}).get("dropped")
                         else "MISSED"))
    sc = scen.get("api-span-cost")
    if sc and not sc.get("skipped") and subj:
        native = (sc["results"].get(subj) or {}).get("value")
        api = (sc["results"].get(subj + "+api") or {}).get("value")
        if native is not None and api is not None:
            rows.append(("a span through the OpenTelemetry API on this core ≤ %.0f µs over a native one"
                         % API_SPAN_MARGIN, "%.2f vs %.2f µs (%+.2f)" % (api, native, api - native),
                         "met" if api - native <= API_SPAN_MARGIN else "MISSED"))
    return rows


def _all_names(results, names):
    """The contenders plus those only some scenarios have (``this+api``, ``bare+api``)."""
    extra = []
    for sc in results["scenarios"]:
        for n in sc.get("results") or ():
            if n not in names and n not in extra:
                extra.append(n)
    return names + extra


# Sections written by hand from separate profiles (``hotpath.py``, ``hotpath_parts.py``):
# a regenerated report keeps them as they were, before "How it was measured".
HAND_WRITTEN = ("## Where the time goes",)
_LAST = "## How it was measured"


def keep_hand_written(previous, rendered):
    """``rendered`` with the hand-written sections of ``previous`` put back."""
    kept = []
    for heading in HAND_WRITTEN:
        start = previous.find("\n" + heading + "\n")
        if start == -1 or ("\n" + heading + "\n") in rendered:
            continue
        end = previous.find("\n## ", start + 1)
        kept.append(previous[start + 1:end + 1 if end != -1 else len(previous)].rstrip("\n") + "\n\n")
    if not kept:
        return rendered
    at = rendered.find("\n" + _LAST + "\n")
    at = at + 1 if at != -1 else len(rendered)
    return rendered[:at] + "".join(kept) + rendered[at:]


def render(results):
    m = results["meta"]
    names = _all_names(results, [c["name"] for c in results["contenders"] if not c.get("skipped")])
    base, subj, ref = (_by_role(results, r) for r in ("baseline", "subject", "reference"))
    L = ["# Benchmarks", ""]
    L.append("Generated by `%s` on %s (%.0f s)." % (m["command"], m["date"], m["duration_s"]))
    if m["smoke"]:
        L += ["", "> **Smoke run**: a handful of requests per scenario — the harness works, the "
              "figures mean nothing."]
    if m["current_env"]:
        L += ["", "> Contenders ran from the current Python environment "
              "(`--python-from-current-env`), not from the benchmark venvs."]
    L += ["", "## Machine", "",
          "- CPU: %s — %s cores; kernel %s; %s" % (m["cpu"], m["cores"], m["kernel"], m["platform"]),
          "- harness Python %s; the sink decoded OTLP with %s and takes about %s spans/s "
          "(one client posting batches of 512; an agent delivering near that is sink-bound)"
          % (m["python"], m["sink_decoder"], _num(m.get("sink_capacity_spans_per_s"))),
          "- load average (1/5/15 min) at the start %s, at the end %s — a shared, noisy "
          "machine: compare the ratios and the interleaved paired differences, not absolute "
          "figures across runs" % ("/".join("%.1f" % x for x in m.get("loadavg_start") or ()),
                                   "/".join("%.1f" % x for x in m.get("loadavg_end") or ())), ""]

    L += ["## Contenders", "", "| contender | role | launcher | venv | extra env | versions |",
          "|---|---|---|---|---|---|"]
    for c in results["contenders"]:
        vers = ", ".join("%s %s" % kv for kv in sorted((c.get("versions") or {}).items()))
        env = ", ".join("%s=%s" % kv for kv in sorted(c["env"].items())) or "—"
        L.append("| %s | %s | `%s` | %s | %s | %s |" % (
            c["name"], c["role"], " ".join(c["launcher"]) or "(none)", c["venv"], env,
            ("**skipped: %s**" % c["skipped"]) if c.get("skipped") else vers))
    L += ["", "`this` was built from the repo at %s." % m.get("repo", "?")]
    L += ["", "Every contender gets `OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_ENDPOINT` (the local "
          "sink), `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, `OTEL_TRACES_EXPORTER=otlp`, "
          "`OTEL_LOGS_EXPORTER=otlp`, `OTEL_METRICS_EXPORTER=none`.", ""]

    L += ["## Summary", "",
          "Each cell: the headline figure (added over `%s` in brackets). ⚠ marks a contender that "
          "did not deliver everything it should have — its speed is not a fair comparison." % base, ""]
    head = ["scenario", "metric"] + names
    if base and subj:
        head.append("%s vs %s" % (subj, base))
    if base and ref:
        head.append("%s vs %s" % (ref, base))
    if subj and ref:
        head.append("%s / %s (added cost)" % (subj, ref))
    L += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sc in results["scenarios"]:
        if sc.get("skipped"):
            L.append("| %s | skipped: %s |%s" % (sc["id"], sc["skipped"], " |" * (len(head) - 2)))
            continue
        row = [sc["id"], sc["metric"]] + [_cell(sc, n) for n in names]
        val = lambda n: (sc["results"].get(n) or {}).get("value")  # noqa: E731
        if base and subj:
            row.append(_ratio(val(subj), val(base)))
        if base and ref:
            row.append(_ratio(val(ref), val(base)))
        if subj and ref:
            r = _added_ratio(sc, subj, ref) if sc["id"] != "export-throughput" else None
            if sc["id"] == "export-throughput":
                row.append(_ratio(val(subj), val(ref)) + " (rate)")
            else:
                row.append("%.2f" % r if r is not None else "—")
        L.append("| " + " | ".join(row) + " |")

    L += ["", "## Targets", "", "| target (%s) | figure | verdict |" % (subj or "subject"),
          "|---|---|---|"]
    for label, fig, verdict in targets(results):
        L.append("| %s | %s | %s |" % (label, fig, "**%s**" % verdict if verdict.startswith("MISSED")
                                        else verdict))

    L += ["", "## Delivery", "",
          "Spans and log records the sink received per contender, against what the workload "
          "must produce (a lower bound: an agent may add spans, e.g. SQL connects).", "",
          "| scenario | contender | expected spans | delivered | dropped | expected logs | "
          "delivered logs | status |", "|---|---|---|---|---|---|---|---|"]
    for sc in results["scenarios"]:
        for n in names:
            dv = (sc["results"].get(n) or {}).get("delivery")
            if dv:
                L.append("| %s | %s | %d | %d | %d | %d | %d | %s |" % (
                    sc["id"], n, dv["expected_spans"], dv["spans"], dv["dropped_spans"],
                    dv["expected_logs"], dv["logs"], dv["status"]))
    if results.get("unattributed"):
        L += ["", "Received under unexpected service names (an agent ignoring "
              "`OTEL_SERVICE_NAME`?): " + ", ".join("%s: %d spans, %d logs" % (k, v.get("spans", 0),
                                                                             v.get("logs", 0))
                                                 for k, v in results["unattributed"].items())]

    L += ["", "## Details", ""]
    for sc in results["scenarios"]:
        L += ["### %s — %s" % (sc["id"], sc["title"]), ""]
        if sc.get("skipped"):
            L += ["Skipped: %s" % sc["skipped"], ""]
            continue
        cols = sc["columns"]
        L += ["| contender | " + " | ".join(c[1] for c in cols) + " |",
              "|---|" + "---|" * len(cols)]
        for n in names:
            res = sc["results"].get(n)
            if res is None:
                continue
            if "figures" not in res:
                L.append("| %s | error: %s |%s" % (n, res.get("error", "?").replace("\n", " ")[:300]
                                                    .replace("|", "/"), " |" * (len(cols) - 1)))
                continue
            fig = res["figures"]
            L.append("| %s | " % n + " | ".join(_fmt(fig.get(k), f) for k, _, f in cols) + " |")
        for note in sc["notes"]:
            L.append("")
            L.append("- " + note)
        for n in names:
            err = (sc["results"].get(n) or {}).get("error")
            if err and "figures" in (sc["results"].get(n) or {}):
                L += ["", "- %s: %s" % (n, err.replace("\n", " ")[:300])]
        L.append("")

    prof = results.get("importtime")
    if prof:
        L += ["## Where the start-up time goes", ""]
        lm = prof.get("launcher_ms") or {}
        if lm:
            L += ["The launcher alone, `LAUNCHER true` (it execs a no-op binary), median ms: "
                  + ", ".join("%s %s" % (k, _num(v)) for k, v in sorted(lm.items())) + ".", ""]
        for code, per in prof["codes"].items():
            L += ["`python -X importtime -c \"%s\"` under each launcher: the modules it imports "
                  "that bare python does not, by self time (min of %d runs)." % (code, prof["runs"]),
                  ""]
            for name, p in per.items():
                L += ["**%s**: %d extra modules, %.1f ms self time in all; top:" % (
                    name, p["extra_modules"], p["extra_self_ms"]), "",
                    "| module | self ms | cumulative ms |", "|---|---|---|"]
                for mod, self_ms, cum_ms in p["top"]:
                    L.append("| `%s` | %.2f | %.2f |" % (mod, self_ms, cum_ms))
                L.append("")
    L += ["## How it was measured", "",
          "- Contenders run interleaved (round r starts at contender r mod k), fixed counts, "
          "warm-ups first. \"added\" is the median over rounds of the paired difference "
          "to the baseline of the same round.",
          "- Start-up: wall time and the child's own peak RSS via `os.wait4` (the launchers exec).",
          "- Web: gunicorn, 1 sync worker; the harness sends one request per new "
          "`http.client` connection, sequentially; all contenders' servers are up at once and "
          "measured in alternating blocks; latency is the client-side time of the request.",
          "- In-process: the script times its own loop; the agent's exit-time flush is not "
          "in the per-call figure but is in the process time; delivery is read from the sink "
          "after the process has exited.",
          "- Export throughput: delivered spans / (last delivery at the sink − start of "
          "production); dropped = created − delivered.",
          "- Raw figures: the JSON file written next to this one.", ""]
    return "\n".join(L)
