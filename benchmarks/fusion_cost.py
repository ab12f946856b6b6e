"""What fusing costs: 4 cameras that all see the same 60 people, walking, per step.

.venv/bin/python benchmarks/fusion_cost.py [--cameras 4] [--people 60] [--steps 300]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from vision.fusion import CameraPeople, FloorFuser


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    position = rng.uniform(0, 20, (args.people, 2))
    velocity = rng.normal(0, 0.6, (args.people, 2))
    fuser = FloorFuser()
    costs = []
    for step in range(args.steps):
        position += velocity * 0.2
        velocity[(position < 0) | (position > 20)] *= -1
        views = [
            CameraPeople(
                f"cam-{c}",
                step * 0.2,
                np.arange(args.people, dtype=np.int64) + 1000 * c,
                position + rng.normal(0, 0.05, position.shape),
                np.full(args.people, 0.05),
            )
            for c in range(args.cameras)
        ]
        started = time.perf_counter()
        fused = fuser.fuse(views)
        costs.append(time.perf_counter() - started)
        assert len(fused) == args.people, len(fused)
    costs_ms = 1000 * np.array(costs[10:])
    print(f"machine: {platform.processor() or platform.machine()}")
    print(
        f"{args.cameras} cameras x {args.people} people: median {np.median(costs_ms):.2f} ms per step, "
        f"p99 {np.percentile(costs_ms, 99):.2f} ms (target < 2 ms)"
    )


if __name__ == "__main__":
    main()
