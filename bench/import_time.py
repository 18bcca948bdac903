"""Seconds to `import ai_platform.definitions` (what every run process and code-location load pays),
in fresh interpreters, after one warm-up import (file-system cache and bytecode warm): the import itself,
timed inside the interpreter, and the whole process, which adds the interpreter's start and its exit (Python
tears down every imported module: ~0.7 s here, paid when a run's process ends). Prints the min/median/max and
the slowest imports (`python -X importtime`); writes data/bench/import_time.json.
Usage: `.venv/bin/python bench/import_time.py [--runs N]`."""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATEMENT = "import time; t = time.perf_counter(); import ai_platform.definitions; print(time.perf_counter() - t)"


def once(*flags: str) -> tuple[float, float, str]:
    """(seconds of the import, seconds of the whole process, stderr)."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *flags, "-c", STATEMENT], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1]), time.perf_counter() - t, done.stderr


def top_level_imports(importtime: str, n: int = 8) -> list[tuple[str, float]]:
    """The packages whose own import (cumulative) took longest, from `-X importtime` output."""
    cumulative = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if cum.isdigit() and not name.startswith(" ") and "." not in name.strip():
            cumulative[name.strip()] = max(cumulative.get(name.strip(), 0), int(cum) / 1e6)
    return sorted(cumulative.items(), key=lambda kv: -kv[1])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    once()  # warm-up
    runs = [once()[:2] for _ in range(args.runs)]
    seconds = sorted(imported for imported, _ in runs)
    _, _, importtime = once("-X", "importtime")
    interpreter = statistics.median([_bare() for _ in range(3)])
    figures = {
        "runs": args.runs,
        "min_s": seconds[0],
        "median_s": statistics.median(seconds),
        "max_s": seconds[-1],
        "process_median_s": statistics.median(process for _, process in runs),
        "bare_interpreter_s": interpreter,
        "slowest_imports_s": dict(top_level_imports(importtime)),
    }
    print(
        f"import ai_platform.definitions: median {figures['median_s']:.2f} s "
        f"(min {figures['min_s']:.2f}, max {figures['max_s']:.2f}); "
        f"the whole process {figures['process_median_s']:.2f} s "
        f"(a bare interpreter starts and exits in {interpreter:.2f} s)"
    )
    for name, s in figures["slowest_imports_s"].items():
        print(f"  {name:<20}{s:>6.2f} s")
    out = REPO / "data" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "import_time.json").write_text(json.dumps(figures, indent=2))


def _bare() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
