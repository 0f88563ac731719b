"""Timing, memory and worker-process helpers of the benchmarks.

Standard library only: the TF latency worker (:mod:`.latency_tf`) loads this
file under an interpreter that has neither torch nor movinet_mm's
dependencies.
"""
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

# A worker prints its result as one line 'RESULT {json}' on stdout; the
# libraries it loads may print anything else.
RESULT_TAG = 'RESULT '


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux VmHWM), or -1."""
    # movinet_mm.utils.memory reads it too, but imports torch
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def dir_bytes(path) -> int:
    """Size of a file, or of every file below a directory."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())


def summarize(times_s) -> dict:
    """Median, p90, mean and min in ms of timings in seconds."""
    ms = sorted(1000.0 * t for t in times_s)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return dict(median_ms=statistics.median(ms), p90_ms=p90,
                mean_ms=statistics.fmean(ms), min_ms=ms[0], n=len(ms))


def time_calls(call: Callable[[], object], runs: int) -> List[float]:
    """Seconds of ``runs`` calls, after one untimed warm-up call."""
    call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def print_result(result: dict) -> None:
    """A worker's answer to :func:`run_worker`."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def run_worker(cmd, **kwargs) -> Tuple[Optional[dict], str]:
    """Run a worker process; return its last result (None when it failed or
    printed none) and its stderr. ``kwargs`` go to ``subprocess.run``
    (``subprocess.TimeoutExpired`` is the caller's to handle)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        return None, proc.stderr
    return json.loads(lines[-1][len(RESULT_TAG):]), proc.stderr


def write_json(path: str, obj, indent: int = 1) -> None:
    """Write JSON atomically: never a half file, nor a temp file left."""
    from movinet_mm.utils.files import write_json_atomic  # torch side only
    write_json_atomic(str(path), obj, indent=indent)
