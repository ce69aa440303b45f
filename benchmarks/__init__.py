"""Training-step and per-op benchmarks, chainrule against PyTorch (``python -m benchmarks.run``)."""

import chainrule.backends.cpu

# A benchmark is a training program: it opts in to the allocator tuning that `import chainrule`
# leaves alone (a LeNet-5 step page-faults its arrays back in every iteration without it).
chainrule.backends.cpu.keep_freed_memory()
