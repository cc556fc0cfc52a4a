"""`make chaos`: run the chaos scenarios against real Kafka (full versions) and print what each
checked.

    python tests/chaos/run_chaos.py                       # every scenario below
    python tests/chaos/run_chaos.py overload              # one by name
    python tests/chaos/run_chaos.py tests/stream/test_x.py::test_y   # any pytest node ids

Each scenario is a list of pytest paths or globs; one whose files do not exist yet is listed as
"not written". Scenarios report their figures with `chaos_report.report` (lost, duplicated,
time to recover …); the runner prints those lines and each scenario's pytest outcome, and exits
non-zero when any scenario failed.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS: dict[str, list[str]] = {
    "broker-outage": ["tests/chaos/test_broker_outage.py"],
    "overload": ["tests/chaos/test_overload.py"],
    # Written in tests/stream/ by the crash-safety work (issue 9, items 1-3): any file matching
    # is run here, so adding one needs no change to this runner.
    "crash": ["tests/stream/test_crash*.py", "tests/chaos/test_crash*.py"],
    "rebalance": ["tests/stream/test_rebalance*.py", "tests/chaos/test_rebalance*.py"],
    "backlog": ["tests/stream/test_backlog*.py", "tests/chaos/test_backlog*.py"],
}


def targets(patterns: list[str]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        path, sep, node = pattern.partition("::")
        matches = sorted(glob.glob(str(ROOT / path))) if any(c in path for c in "*?[") else []
        if matches:
            out.extend(str(Path(m).relative_to(ROOT)) for m in matches)
        elif (ROOT / path).exists():
            out.append(path + sep + node)
    return out


def run(name: str, patterns: list[str]) -> bool:
    found = targets(patterns)
    if not found:
        print(f"-- {name}: not written yet ({', '.join(patterns)})", flush=True)
        return True
    print(f"-- {name}: {' '.join(found)}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        report = Path(handle.name)
    env = {**os.environ, "CORRELATOR_CHAOS_FULL": "1", "CORRELATOR_CHAOS_REPORT": str(report)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *found]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [orjson.loads(line) for line in report.read_bytes().splitlines() if line.strip()]
    report.unlink(missing_ok=True)
    for figures in lines:
        scenario = figures.pop("scenario")
        text = ", ".join(f"{k} {_text(v)}" for k, v in figures.items())
        print(f"   {scenario}: {text}", flush=True)
    if not lines:
        print("   (no figures reported: the scenario does not call chaos_report.report)")
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    ok = result.returncode == 0
    print(f"   {'passed' if ok else 'FAILED'}: {summary}", flush=True)
    if not ok:
        print(result.stdout[-4000:], result.stderr[-2000:], sep="\n", flush=True)
    return ok


def _text(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def main(argv: list[str]) -> int:
    wanted = argv or list(SCENARIOS)
    failed = []
    for item in wanted:
        patterns = SCENARIOS.get(item, [item])
        if not run(item, patterns):
            failed.append(item)
    if failed:
        print(f"chaos: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("chaos: every scenario passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
