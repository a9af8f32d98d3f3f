"""What every twin shares with the others and with the C programs
(bench_common.h): the command line (--threads N, --quick), timing a step until
a time budget is spent, medians, peak memory, and the "<key> <value>" output
lines run_benchmarks.sh reads."""
import argparse
import resource
import statistics
import time

MAX_RUNS = 1000


def parse_options(torch=None):
    """--threads N (given torch, passed to torch.set_num_threads) and --quick
    (fewer sizes and shorter budgets, for testing the script)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0, help="threads (0: the default)")
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter budgets")
    options = parser.parse_args()
    if torch is not None and options.threads > 0:
        torch.set_num_threads(options.threads)
    return options


def time_median(step, warmup, min_runs, budget_s):
    """Runs step() `warmup` times untimed, then times single calls until both
    `min_runs` calls and `budget_s` seconds have passed (at most MAX_RUNS), and
    returns the median seconds per call."""
    for _ in range(warmup):
        step()
    seconds = []
    start = time.perf_counter()
    while len(seconds) < MAX_RUNS and (len(seconds) < min_runs or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


def peak_rss_mib():
    """The process's peak resident set so far, MiB (ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(key, value):
    """Prints "<key> <value>" as the C programs do."""
    print(f"{key} {value:.5g}", flush=True)
