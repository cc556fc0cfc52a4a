"""The core in a storm: 100 to 5,000 components failing on 10,000- and 50,000-component topologies
(`correlator.synthetic`), and on two other shapes: a 12,000-component layered mesh
(`benchmarks/_mesh.py`) and a 10,000-component Kubernetes fleet (`benchmarks/_fleet.py`).

Each storm is a whole `correlator replay --summary` in a child process (topology loading
included), so its wall time and peak RSS are its own. Figures are printed next to the baseline
of the same run: one evaluation from scratch of the same graph with every problem of the storm
at once (the least any evaluator must do to give the final figures). Doubling the storm should
at most double the time: the `×prev` column is the ratio to the storm half its size. `one step`
is the whole storm applied to the tracker as one step (every change at once, in process).

    python -m benchmarks storm                 # every case, 3 runs each (minutes)
    python -m benchmarks.storm --quick         # 10k only, one run each
    python -m benchmarks.storm --topology estate.yaml   # random storms on your own topology
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import yaml

from benchmarks._fleet import generate_fleet
from benchmarks._mesh import generate_mesh
from correlator.core.alerts import Alert
from correlator.core.engine import Engine
from correlator.core.evaluator import Evaluator
from correlator.core.health import ComponentHealth
from correlator.core.incidents import IncidentTracker
from correlator.core.topology import Topology
from correlator.synthetic import generate_topology
from correlator.topology_files import load_topology

T0 = datetime.datetime(2026, 3, 14, 14, 0, tzinfo=datetime.UTC)


def _write_topology(directory: Path, components: int, seed: int, shape: str = "synthetic") -> Path:
    path = directory / f"topology-{shape}-{components}.yaml"
    if not path.exists():
        make = {"mesh": generate_mesh, "fleet": generate_fleet}.get(shape, generate_topology)
        path.write_text(yaml.safe_dump(make(components, seed=seed), sort_keys=False))
    return path


def _storm(topology: Topology, kind: str, size: int, seed: int) -> list[str]:
    components = [n.id for n in topology.components]
    if kind == "random":
        return random.Random(seed).sample(components, size)
    cells = kind.split("+")  # whole cells down: every component serving those cells
    return [c for c in components if any(c.endswith(f"-{cell}") for cell in cells)][:size]


def _write_storm(path: Path, failing: list[str], seed: int) -> None:
    rng = random.Random(seed)
    with path.open("wb") as out:
        for i, component in enumerate(failing):
            at = T0 + datetime.timedelta(milliseconds=100 * i)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            record = {
                "fingerprint": f"storm-{component}",
                "status": "firing",
                "severity": "critical" if rng.random() < 0.7 else "warning",
                "labels": {"alertname": "Storm", "component": component},
                "summary": f"{component} failing",
                "starts_at": stamp,
                "received_at": stamp,
                "source": "canonical",
            }
            out.write(orjson.dumps(record) + b"\n")


_CHILD = """
import sys
from correlator.cli import main
code = main(sys.argv[1:])
# VmHWM: this process's own peak (ru_maxrss would include the parent's, copied at fork)
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(peak, file=sys.stderr)
sys.exit(code)
"""


def _replay(topology: Path, alerts: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `correlator replay --summary` child process."""
    command = [sys.executable, "-c", _CHILD, "replay", "--summary", "--topology", str(topology)]
    command.append(str(alerts))
    start = time.perf_counter()
    done = subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    return wall, int(done.stderr.strip().splitlines()[-1]) / 1024


def _baseline(topology: Topology, failing: list[str]) -> float:
    """One evaluation from scratch with the whole storm at once (seconds)."""
    problems = {c: "down" for c in failing}
    start = time.perf_counter()
    Evaluator(topology).evaluate(problems, reach=True, root_causes=True)  # type: ignore[arg-type]
    return time.perf_counter() - start


def _one_step(topology: Topology, failing: list[str]) -> float:
    """The whole storm applied as one step of a fresh tracker (seconds): every change at once
    (as a restore, or changes of one event time) costs a few evaluations, not one per change."""
    records = [ComponentHealth(c, "down", 1, 0, 0, (), int(T0.timestamp() * 1000)) for c in failing]
    tracker = IncidentTracker(topology)
    start = time.perf_counter()
    tracker.apply_health(records, records[0].as_of)
    return time.perf_counter() - start


def _one_change(topology: Topology, open_problems: int, samples: int = 60) -> float:
    """Median CPU milliseconds of one health change with `open_problems` open (whole engine)."""
    rng = random.Random(11)
    components = [n.id for n in topology.components]
    start_ms = int(T0.timestamp() * 1000)
    engine = Engine(topology)
    for i, c in enumerate(rng.sample(components, open_problems)):
        engine.ingest(_alert(c, start_ms + i))
    times = []
    others = rng.sample(components, samples)
    for i, c in enumerate(others):
        alert = _alert(c, start_ms + 10_000 + i)
        begin = time.process_time()  # CPU time: the machine is shared, wall time is noisy
        engine.ingest(alert)
        times.append(time.process_time() - begin)
    return statistics.median(times) * 1000


def _alert(component: str, at: int) -> Alert:
    return Alert(
        fingerprint=f"one-{component}",
        status="firing",
        severity="critical",
        labels={"alertname": "Bench", "component": component},
        received_at=at,
        starts_at=at,
        summary=f"{component} failing",
    )


STORM_SIZES = (100, 250, 500, 1_000, 2_000, 2_500, 5_000)
"""Storm sizes; 2,500 -> 5,000 shows the doubling of the largest storms."""


def _cases(quick: bool) -> list[tuple[str, str, int]]:
    cases = [("10,000", "random", n) for n in STORM_SIZES[:5]]
    cases.append(("10,000", "cell-1+cell-2", 5_000))
    if not quick:
        cases += [("10,000", "random", n) for n in STORM_SIZES[5:]]
        cases += [("50,000", "random", n) for n in (1_000, 2_500, 5_000)]
        cases += [("mesh 12,000", "random", n) for n in STORM_SIZES[:4]]
        cases += [("fleet 10,000", "random", n) for n in STORM_SIZES]
    return cases


def _load(path: Path, label: str) -> tuple[Path, Topology, float]:
    start = time.perf_counter()
    topology = load_topology(path)
    loaded = time.perf_counter() - start
    print(
        f"topology {label}: {len(topology.nodes):,} nodes, "
        f"{path.stat().st_size / 1e6:.1f} MB, loaded in {loaded:.2f} s"
    )
    return path, topology, loaded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storm")
    parser.add_argument("--quick", action="store_true", help="10k cases only, one run each")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default 3)")
    parser.add_argument(
        "--topology",
        type=Path,
        default=None,
        help="random storms of 100 to 5,000 problems on this topology, not the synthetic ones",
    )
    args = parser.parse_args(argv if argv is not None else [])
    runs = args.runs or (1 if args.quick else 3)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; {runs} run(s) each")
    with tempfile.TemporaryDirectory(prefix="correlator-storm-") as tmp:
        directory = Path(tmp)
        topologies: dict[str, tuple[Path, Topology, float]] = {}
        if args.topology is not None:
            label = args.topology.name
            topologies[label] = _load(args.topology, label)
            size = sum(1 for _ in topologies[label][1].components)
            cases = [(label, "random", n) for n in STORM_SIZES if n <= size]
        else:
            shapes = ((10_000, 1, ""), (50_000, 2, ""), (12_000, 7, "mesh"), (10_000, 5, "fleet"))
            for components, seed, shape in shapes:
                if args.quick and (components > 10_000 or shape):  # quick: the synthetic 10k
                    continue
                label = f"{shape} {components:,}".strip()
                path = _write_topology(directory, components, seed, shape or "synthetic")
                topologies[label] = _load(path, label)
            cases = _cases(args.quick)
        first, one, _ = next(iter(topologies.values()))
        changes = [_one_change(one, 50) for _ in range(runs)]
        print(
            f"one health change, 50 open problems, {first.name}: median "
            + ", ".join(f"{c:.2f}" for c in changes)
            + " ms"
        )
        print()
        print(
            f"{'topology':>14} {'storm':>14} {'problems':>8} {'wall s':>16} {'peak MiB':>9} "
            f"{'ms/problem':>10} {'baseline s':>10} {'×baseline':>9} {'×prev':>6} "
            f"{'one step s':>10}"
        )
        previous: dict[tuple[str, str], tuple[int, float]] = {}
        for label, kind, size in cases:
            path, topology, _ = topologies[label]
            failing = _storm(topology, kind, size, seed=42)
            alerts = directory / f"storm-{len(topology.nodes)}-{kind}-{size}.jsonl"
            _write_storm(alerts, failing, seed=42)
            walls, peaks = [], []
            for _ in range(runs):
                wall, peak = _replay(path, alerts)
                walls.append(wall)
                peaks.append(peak)
            base = _baseline(topology, failing)
            at_once = _one_step(topology, failing)
            best = min(walls)
            grow = ""
            key = (label, kind)
            if key in previous:
                was_size, was_best = previous[key]
                grow = f"{best / was_best:.2f}"
                if len(failing) != 2 * was_size:
                    grow += f" (×{len(failing) / was_size:g})"
            previous[key] = (len(failing), best)
            print(
                f"{label:>14} {kind:>14} {len(failing):>8,} "
                f"{'/'.join(f'{w:.1f}' for w in walls):>16} {max(peaks):>9.0f} "
                f"{best / len(failing) * 1000:>10.2f} {base:>10.2f} {best / base:>9.1f} {grow:>6} "
                f"{at_once:>10.2f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
