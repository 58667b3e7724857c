#!/usr/bin/env python3
"""Alternates `baton run --simulate` between builds or flags, run after run, on one workflow.

    python3 benches/alternate.py RUNS WORKFLOW 'COMMAND...' 'COMMAND...' [...]

Each COMMAND is a baton binary with any arguments before `run` (`env VAR=1 ./baton` works too);
the script appends `run WORKFLOW --simulate --work-ms 0 --success-rate 1 --quiet --state DIR`
and anything after `--` on its own command line, e.g.
`python3 benches/alternate.py 25 bench.yaml ./baton-a ./baton-b -- --replica-per-agent`.
Every run starts in a fresh state directory once what the runs before wrote is on the disk
(`sync`); its wall time is taken from its start to its exit in this process, its CPU time from
the kernel's account of the child. Prints, for each command, the median and the least wall
time and the median CPU time. On a shared host the speed drifts from minute to minute: only
commands alternated in the same call compare.
"""

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> None:
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    if len(args) < 3:
        sys.exit(__doc__)
    runs, workflow, commands = int(args[0]), args[1], args[2:]
    state = os.path.join(tempfile.gettempdir(), f"baton-alternate-{os.getpid()}")
    timed = {command: [] for command in commands}
    for _ in range(runs):
        for command in commands:
            shutil.rmtree(state, ignore_errors=True)
            os.sync()
            argv = shlex.split(command) + ["run", workflow, "--simulate", "--work-ms", "0",
                                           "--success-rate", "1", "--quiet", "--state", state] + extra
            start = time.perf_counter()
            child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"{command}: exited with {os.waitstatus_to_exitcode(status)}")
            timed[command].append((wall, usage.ru_utime + usage.ru_stime))
    shutil.rmtree(state, ignore_errors=True)
    for command, results in timed.items():
        walls = sorted(wall for wall, _ in results)
        cpu = statistics.median(cpu for _, cpu in results)
        print(f"{command:40s} wall median {statistics.median(walls) * 1000:7.1f} ms, "
              f"least {walls[0] * 1000:7.1f} ms; CPU median {cpu * 1000:7.1f} ms; {len(results)} runs")


if __name__ == "__main__":
    main()
