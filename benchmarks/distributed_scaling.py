"""Data-parallel scaling on MPI: 2 ranks x 1 BLAS thread against 1 process x 2 threads.

For the seed MLP (784-128-64-10) and LeNet-5 at the same per-rank batch, the training
throughput (samples per second) of ``DistributedDataParallel`` on 2 ranks and of one process;
the time of an all-reduce of each model's gradients; DDP's own work per MLP step (in a world of
one, against a plain step, alternating); and the all-reduce's cost per message
and per byte (a least-squares line through a sweep of sizes), the inputs of the scaling model
in benchmarks/RESULTS.md.

    python -m benchmarks.distributed_scaling [--quick]

Each measurement runs in its own processes (the thread count is fixed when the BLAS loads).
DDP runs with ``gradient_as_bucket_view=True`` (``DDP_OPTIONS``), torch's setting for speed: the
averaged gradients stay in the all-reduce buckets instead of being copied back into ``.grad``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

MODELS = ("mlp", "lenet5")
DDP_OPTIONS = {"gradient_as_bucket_view": True}
SWEEP_BYTES = (8, 1024, 16 * 1024, 128 * 1024, 1024 * 1024, 4 * 1024 * 1024)


def build_model(lib, name: str):
    from benchmarks.lenet_step import lenet5
    from benchmarks.mlp_step import SIZES

    if name == "lenet5":
        return lenet5(lib.nn), (1, 28, 28)
    layers = []
    for fan_in, fan_out in zip(SIZES, SIZES[1:]):
        layers += [lib.nn.Linear(fan_in, fan_out), lib.nn.ReLU()]
    return lib.nn.Sequential(*layers[:-1]), (SIZES[0],)


def _training_step(name: str, batch: int, ddp_options: dict | None):
    """One SGD step of ``name``; wrapped in DDP with ``ddp_options`` unless they are None."""
    import chainrule

    chainrule.manual_seed(0)
    model, shape = build_model(chainrule, name)
    if ddp_options is not None:
        from chainrule.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, **ddp_options)
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = chainrule.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    images = chainrule.from_numpy(rng.standard_normal((batch, *shape)).astype(np.float32))
    labels = chainrule.from_numpy(rng.integers(0, 10, batch).astype(np.int64))

    def step() -> None:
        optimizer.zero_grad()
        criterion(model(images), labels).backward()
        optimizer.step()

    return step, model


def _median_step_seconds(step, repeats: int, rounds: int, sync=lambda: None) -> float:
    for _ in range(3):
        step()
    times = []
    for _ in range(rounds):
        sync()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        sync()
        times.append((time.perf_counter() - start) / repeats)
    return statistics.median(times)


def worker_single(name: str, batch: int, repeats: int, rounds: int) -> dict:
    step, _ = _training_step(name, batch, ddp_options=None)
    return {"step_s": _median_step_seconds(step, repeats, rounds)}


def worker_ddp(name: str, batch: int, repeats: int, rounds: int) -> dict:
    import chainrule
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    step, model = _training_step(name, batch, ddp_options=DDP_OPTIONS)
    seconds = _median_step_seconds(step, repeats, rounds, dist.barrier)
    grads = chainrule.cat([p.grad.reshape(-1) for p in model.parameters()])
    allreduce = _median_step_seconds(lambda: dist.all_reduce(grads), repeats, rounds, dist.barrier)
    result = {"step_s": seconds, "world": dist.get_world_size(), "grad_bytes": grads.nbytes,
              "allreduce_s": allreduce}
    dist.destroy_process_group()
    return result


def worker_overhead(name: str, batch: int, repeats: int, rounds: int) -> dict:
    """DDP's own work per step, in a world of one (no communication): the median step time of a
    plain model and of DDP copying the averages back or leaving them in bucket views, in rounds
    that alternate between the three in one process (so load and clock changes hit all alike)."""
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    variants = {"plain": None, "copy": {"gradient_as_bucket_view": False},
                "bucket view": {"gradient_as_bucket_view": True}}
    steps = {kind: _training_step(name, batch, options)[0] for kind, options in variants.items()}
    times: dict = {kind: [] for kind in steps}
    for _ in range(rounds):
        for kind, step in steps.items():
            times[kind].append(_median_step_seconds(step, repeats, 1))
    dist.destroy_process_group()
    return {kind: statistics.median(seconds) for kind, seconds in times.items()}


def worker_sweep(repeats: int, rounds: int) -> dict:
    import chainrule
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    times = {}
    for nbytes in SWEEP_BYTES:
        tensor = chainrule.zeros(nbytes // 4)
        times[nbytes] = _median_step_seconds(lambda t=tensor: dist.all_reduce(t), repeats * 5,
                                             rounds, dist.barrier)
    dist.destroy_process_group()
    # The smallest message is all per-message cost; the step between the two largest is all bytes
    # (a least-squares line is dragged about by the noisiest, largest sizes).
    small, large, largest = SWEEP_BYTES[0], SWEEP_BYTES[-2], SWEEP_BYTES[-1]
    per_byte = (times[largest] - times[large]) / (largest - large)
    return {"times": times, "per_message_s": times[small], "per_byte_s": per_byte}


# Networks the model extrapolates to: (name, latency per message in s, seconds per byte).
NETWORKS = (("10 Gb/s Ethernet", 25e-6, 8 / 10e9), ("100 Gb/s InfiniBand", 2e-6, 8 / 100e9))
MACHINES = (2, 4, 8, 16, 32, 64)


def allreduce_seconds(machines: int, nbytes: int, per_message: float, per_byte: float) -> float:
    """An all-reduce of ``nbytes`` over ``machines`` as MPICH runs large ones (Rabenseifner:
    reduce-scatter then all-gather, recursive halving/doubling): 2 log2(p) messages, and each
    rank sends and receives 2 (p-1)/p of the data."""
    return (2 * np.log2(machines) * per_message
            + 2 * (machines - 1) / machines * nbytes * per_byte)


def scaling_model(compute_s: dict, grad_bytes: dict, software_s: float) -> list[str]:
    """Step time (compute, then one bucket's all-reduce: these models fit in DDP's first bucket,
    so nothing overlaps) and the share of time computing, for 2-64 machines."""
    rows = ["| model | network | " + " | ".join(f"p={p}" for p in MACHINES) + " |",
            "|---|---|" + "---|" * len(MACHINES)]
    for name, compute in compute_s.items():
        for network, latency, per_byte in NETWORKS:
            cells = []
            for machines in MACHINES:
                step = compute + allreduce_seconds(machines, grad_bytes[name],
                                                   latency + software_s, per_byte)
                cells.append(f"{step * 1e3:.2f} ms ({compute / step:.0%})")
            rows.append(f"| {name} | {network} | " + " | ".join(cells) + " |")
    return rows


def _spawn(worker: list[str], ranks: int, threads: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "benchmarks.distributed_scaling", "--worker", *worker]
    if ranks > 1:
        from chainrule.distributed.run import find_mpiexec

        command = [find_mpiexec(), "-n", str(ranks), *command]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(output.splitlines()[0])


def run(quick: bool = False) -> list[str]:
    repeats, rounds = (5, 3) if quick else (20, 7)
    compute, grad_bytes = {}, {}
    rows = ["| model, per-rank batch | 1 process x 1 thread | 1 process x 2 threads "
            "| 2 ranks x 1 thread | 2 ranks / (1 x 2 threads) | all-reduce of the gradients |",
            "|---|---|---|---|---|---|"]
    for name in MODELS:
        for batch in (64, 256) if name == "mlp" else (64,):
            timing = [str(name), str(batch), str(repeats), str(rounds)]
            one_thread = _spawn(["single", *timing], ranks=1, threads=1)
            two_threads = _spawn(["single", *timing], ranks=1, threads=2)
            ddp = _spawn(["ddp", *timing], ranks=2, threads=1)
            rates = [batch / one_thread["step_s"], batch / two_threads["step_s"],
                     2 * batch / ddp["step_s"]]
            cells = [f"{rate:,.0f} samples/s ({run_['step_s'] * 1e3:.2f} ms/step)"
                     for rate, run_ in zip(rates, (one_thread, two_threads, ddp))]
            if batch == 64:
                compute[name], grad_bytes[name] = one_thread["step_s"], ddp["grad_bytes"]
            rows.append(f"| {name}, {batch} | {' | '.join(cells)} | {rates[2] / rates[1]:.2f}x | "
                        f"{ddp['allreduce_s'] * 1e6:.0f} us for {ddp['grad_bytes'] / 1024:.0f} KiB |")
    own = _spawn(["overhead", "mlp", "64", str(repeats), str(rounds * 3)], ranks=1, threads=1)
    rows.append("")
    rows.append(f"DDP's own work per MLP step (batch 64, world of one, alternating rounds): "
                f"{(own['copy'] - own['plain']) * 1e6:.0f} us copying the averages back, "
                f"{(own['bucket view'] - own['plain']) * 1e6:.0f} us with bucket views "
                f"(plain step {own['plain'] * 1e3:.3f} ms)")
    sweep = _spawn(["sweep", str(repeats), str(rounds)], ranks=2, threads=1)
    rows.append("")
    rows.append("all-reduce on 2 ranks (float32, shared memory): " + ", ".join(
        f"{int(n):,} B {t * 1e6:.1f} us" for n, t in sweep["times"].items()))
    rows.append(f"fitted: {sweep['per_message_s'] * 1e6:.1f} us per message + "
                f"{sweep['per_byte_s'] * 1e9:.3f} ns per byte "
                f"({1 / sweep['per_byte_s'] / 1e9:.2f} GB/s)")
    rows.append("")
    rows.append("model: step time at per-rank batch 64 on p machines (share of it computing)")
    return rows + scaling_model(compute, grad_bytes, sweep["per_message_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *params = args.worker
        if kind == "sweep":
            result = worker_sweep(*map(int, params))
        else:
            name, *numbers = params
            workers = {"single": worker_single, "ddp": worker_ddp, "overhead": worker_overhead}
            result = workers[kind](name, *map(int, numbers))
        if kind == "single" or int(os.environ.get("PMI_RANK", "0")) == 0:
            print(json.dumps(result), flush=True)
        return
    for row in run(args.quick):
        print(row, flush=True)


if __name__ == "__main__":
    main()
