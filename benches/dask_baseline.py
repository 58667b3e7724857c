#!/usr/bin/env python3
"""Dask's synchronous scheduler on the run bench's festival, with tasks that do nothing.

    python3 benches/dask_baseline.py LAYERS WIDTH [RUNS]

The graph is the bench's: LAYERS layers of WIDTH tasks, each task of a layer after the first
depending on tasks i and i + 1 (mod WIDTH) of the layer before (the bench passes its own width).
Each task is a Python function that returns at once, so what is timed is the scheduler alone
(`dask.local.get_sync`: one thread, nothing durable). One run warms up, then each of RUNS (1 unless
given) is timed and printed in seconds, one per line. `cargo bench --bench run` calls it between
its runs of `baton run` when `python3 -c 'import dask'` works (`pip install dask`), to give the run
a baseline measured on the same host at the same time.
"""

import sys
import time

from dask.local import get_sync

def noop(*_dependencies):
    return None


def graph(layers, width):
    tasks = {}
    for layer in range(layers):
        for i in range(width):
            key = f"t{layer}-{i}"
            if layer == 0:
                tasks[key] = (noop,)
            else:
                tasks[key] = (noop, f"t{layer - 1}-{i}", f"t{layer - 1}-{(i + 1) % width}")
    return tasks


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    layers, width = int(sys.argv[1]), int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    tasks = graph(layers, width)
    keys = list(tasks)
    get_sync(tasks, keys)
    for _ in range(runs):
        start = time.perf_counter()
        get_sync(tasks, keys)
        print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
