"""Not scenarios but context for reading them: where start-up time goes (launcher
alone, -X importtime), and how fast the sink itself can take spans."""
import http.client
import struct
import subprocess
import time

from .common import median, rotate, run_measured

PROFILE_CODES = ["pass", "import flask, requests, sqlalchemy"]


def launcher_alone(ctx, runs=7):
    """`LAUNCHER true` vs `true`: what the launcher costs before the program starts."""
    rts = [rt for rt in ctx.runtimes if rt.command_prefix]
    walls = {rt.name: [] for rt in rts}
    walls["(none)"] = []
    for r in range(runs + 1):
        for rt in rotate(rts + [None], r):
            cmd = (rt.command_prefix if rt else []) + ["true"]
            env = ctx.env_for(rt or ctx.runtimes[0], "bench-launcher")
            res = run_measured(cmd, env, cwd=ctx.tmp, timeout=60)
            if r > 0 and res["rc"] == 0:  # round 0 is warm-up
                walls[rt.name if rt else "(none)"].append(res["wall_s"] * 1e3)
    return {k: median(v) for k, v in walls.items()}


def _importtime(ctx, rt, code, runs):
    best = {}
    for _ in range(runs):
        r = subprocess.run(rt.cmd("python", "-X", "importtime", "-c", code),
                           env=ctx.env_for(rt, "bench-importtime"), cwd=ctx.tmp,
                           capture_output=True, text=True, timeout=120)
        for line in r.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            try:
                self_us, cum_us, name = [p.strip() for p in line[12:].split("|", 2)]
                s, c = int(self_us), int(cum_us)
            except ValueError:
                continue
            old = best.get(name)
            best[name] = (min(s, old[0]), min(c, old[1])) if old else (s, c)
    return best


def importtime_profile(ctx, runs=3, top=10):
    """Per launcher and code: the modules imported that bare python does not import."""
    base = next((rt for rt in ctx.runtimes if rt.name == ctx.baseline), None)
    if base is None:
        return None
    out = {"runs": runs, "codes": {}, "launcher_ms": launcher_alone(ctx)}
    for code in PROFILE_CODES:
        mods = ("flask", "requests", "sqlalchemy") if code != "pass" else ()
        if any(m not in ctx.modules.get(base.name, ()) for m in mods):
            continue
        bare = _importtime(ctx, base, code, runs)
        per = {}
        for rt in ctx.runtimes:
            if rt is base or not rt.command_prefix:
                continue
            if any(m not in ctx.modules.get(rt.name, ()) for m in mods):
                continue
            extra = {k: v for k, v in _importtime(ctx, rt, code, runs).items() if k not in bare}
            ranked = sorted(extra.items(), key=lambda kv: -kv[1][0])[:top]
            per[rt.name] = {"extra_modules": len(extra),
                            "extra_self_ms": sum(v[0] for v in extra.values()) / 1e3,
                            "top": [(k, v[0] / 1e3, v[1] / 1e3) for k, v in ranked]}
        out["codes"][code] = per
    return out


# ------------------------------------------------------------ sink calibration


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field, payload):
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _kv_str(key, value):
    return _ld(1, key.encode()) + _ld(2, _ld(1, value.encode()))


def encode_spans(service, n):
    """An OTLP ExportTraceServiceRequest with n realistic-sized spans (hand-encoded:
    the harness needs no protobuf)."""
    now = int(time.time() * 1e9)
    spans = []
    for i in range(n):
        span = (_ld(1, struct.pack(">QQ", 1, i + 1)) + _ld(2, struct.pack(">Q", i + 1))
                + _ld(5, b"op") + _varint(6 << 3) + _varint(1)
                + _varint(7 << 3 | 1) + struct.pack("<Q", now)
                + _varint(8 << 3 | 1) + struct.pack("<Q", now + 1000)
                + _ld(9, _kv_str("bench.kind", "loop")) + _ld(9, _kv_str("bench.i", str(i)))
                + _ld(9, _kv_str("bench.ratio", "0.5")))
        spans.append(_ld(2, span))
    scope = _ld(2, _ld(1, _ld(1, b"bench")) + b"".join(spans))
    resource = _ld(1, _ld(1, _kv_str("service.name", service)))
    return _ld(1, resource + scope)


def sink_capacity(ctx, posts=40, batch=512):
    """Spans/s the sink accepts from one keep-alive client posting batches of 512."""
    body = encode_spans("bench-sink-calibration", batch)
    conn = http.client.HTTPConnection("127.0.0.1", ctx.sink.port, timeout=30)
    try:
        t0 = time.perf_counter()
        for _ in range(posts):
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                return None
        dt = time.perf_counter() - t0
    finally:
        conn.close()
    return posts * batch / dt
