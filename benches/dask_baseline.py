#!/usr/bin/env python3
"""Dask's synchronous scheduler on the run bench's festival, with tasks that do nothing.

    python3 benches/dask_baseline.py LAYERS [RUNS]

The graph is the bench's: LAYERS layers of 100 tasks, each task of a layer after the first
depending on tasks i and i + 1 (mod 100) of the layer before. Each task is a Python function
that returns at once, so what is timed is the scheduler alone (`dask.local.get_sync`: one thread,
nothing durable). One run warms up, then each of RUNS (1 unless given) is timed and printed in
seconds, one per line. `cargo bench --bench run` calls it between its runs of `baton run` when
`python3 -c 'import dask'` works (`pip install dask`), to give the run a baseline measured on the
same host at the same time.
"""

import sys
import time

from dask.local import get_sync

WIDTH = 100


def noop(*_dependencies):
    return None


def graph(layers):
    tasks = {}
    for layer in range(layers):
        for i in range(WIDTH):
            key = f"t{layer}-{i}"
            if layer == 0:
                tasks[key] = (noop,)
            else:
                tasks[key] = (noop, f"t{layer - 1}-{i}", f"t{layer - 1}-{(i + 1) % WIDTH}")
    return tasks


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    layers = int(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    tasks = graph(layers)
    keys = list(tasks)
    get_sync(tasks, keys)
    for _ in range(runs):
        start = time.perf_counter()
        get_sync(tasks, keys)
        print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
