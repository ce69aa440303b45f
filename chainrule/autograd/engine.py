"""The backward pass: the chain rule applied over the recorded graph, in reverse.

1. Order the nodes reachable from the outputs so each runs after every node
   that sends it a gradient (an iterative depth-first search: deep graphs never
   hit Python's recursion limit).
2. Walk that order once. Each node receives the sum of the gradients sent to
   it, calls its ``backward``, and sends one gradient per input along
   ``next_functions``. A gradient whose operand was broadcast in the forward is
   summed back to the operand's shape here, in one place for every op.
3. ``AccumulateGrad`` nodes at the leaves add their gradient into ``.grad``.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._tensor import Tensor, make_tensor
from chainrule.autograd.function import AccumulateGrad, Node
from chainrule.autograd.grad_mode import state


def topological_order(roots: list[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each before all the nodes it sends gradients to."""
    postorder: list[Node] = []
    visited: set[Node] = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child, _ in children:
                if child is not None and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                postorder.append(node)
    postorder.reverse()
    return postorder


def _nodes_leading_to(order: list[Node], targets: set[Node]) -> set[Node]:
    needed = set(targets)
    for node in reversed(order):
        if node not in needed:
            for child, _ in node.next_functions:
                if child in needed:
                    needed.add(node)
                    break
    return needed


class _GradOwnership:
    """Decides when a gradient array may become a ``.grad`` without a copy.

    A backward may send the same array to several inputs (``AddBackward0``) or
    pass on the one it received; storing it twice would let an in-place change
    of one ``.grad`` alter another. Arrays already handed out, and views, are copied.
    """

    __slots__ = ("seen",)

    def __init__(self, arrays) -> None:
        self.seen = {id(a) for a in arrays}

    def take(self, grad: Tensor) -> Tensor:
        data = grad._data
        if data.base is not None or id(data) in self.seen or not data.flags.writeable:
            data = data.copy()
        self.seen.add(id(data))
        return make_tensor(data)


def _conform(grad, meta, node: Node, index: int) -> Tensor:
    """Sum a broadcast gradient back to its input's shape and cast it to the input's dtype."""
    if not isinstance(grad, Tensor):
        grad = make_tensor(np.asarray(grad))
    shape, dtype = meta
    if grad._data.shape != shape:
        try:
            grad = grad.sum_to_size(shape)
        except RuntimeError:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(grad.shape)} but expected shape compatible with {list(shape)}") from None
    if grad._data.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _check_finite(node: Node, grads) -> None:
    for i, g in enumerate(grads):
        if isinstance(g, Tensor) and is_floating_numpy(g._data.dtype) and not np.isfinite(g._data).all():
            kind = "nan" if np.isnan(g._data).any() else "inf"
            trace = "".join(node._forward_trace or ["(no forward traceback recorded)\n"])
            raise RuntimeError(
                f"Function '{node.name()}' returned {kind} values in its {i}th output.\n"
                f"Traceback of the forward call that created it:\n{trace}")


def _run_tensor_hooks(node: Node, grads: list) -> None:
    hooks = node._tensor_hooks
    if hooks:
        for slot, slot_hooks in hooks.items():
            for hook in list(slot_hooks.values()):
                if grads[slot] is None:
                    continue
                result = hook(grads[slot])
                if result is not None:
                    grads[slot] = result


def run_backward(roots: list[tuple[Node, int, Tensor]], retain_graph: bool, create_graph: bool,
                 capture: dict | None = None, accumulate: bool = True) -> dict:
    """Propagate gradients from ``roots`` (``(node, output_nr, grad)``) to the leaves.

    With ``capture`` (a map from ``(node, output_nr)`` to a key), the gradients
    reaching those places are returned by key instead of accumulated, and only
    the nodes that lead to them run (``autograd.grad`` and ``backward(inputs=...)``).
    """
    buffers: dict[Node, list] = {}
    for node, nr, grad in roots:
        slots = buffers.setdefault(node, [None] * node._num_outputs)
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad
    order = topological_order(list(buffers))
    needed = None
    if capture is not None:
        needed = _nodes_leading_to(order, {node for node, _ in capture})
    captured: dict = {}
    ownership = _GradOwnership(g._data for _, _, g in roots)

    previous = state.enabled
    state.enabled = create_graph
    try:
        for node in order:
            grads = buffers.pop(node, None)
            if grads is None or (needed is not None and node not in needed):
                continue
            _run_tensor_hooks(node, grads)
            if node._retain_hooks:
                for slot, ref in node._retain_hooks.items():
                    tensor = ref()
                    if tensor is not None and grads[slot] is not None:
                        _store_grad(tensor, grads[slot], create_graph, ownership)
            if node._pre_hooks:
                for hook in list(node._pre_hooks.values()):
                    result = hook(tuple(grads))
                    if result is not None:
                        grads = list(result)
            if capture is not None:
                for slot in range(len(grads)):
                    key = capture.get((node, slot))
                    if key is not None and grads[slot] is not None:
                        captured[key] = grads[slot]
                if type(node) is AccumulateGrad or not any(
                        child in needed for child, _ in node.next_functions):
                    continue
            if type(node) is AccumulateGrad:
                if accumulate and grads[0] is not None:
                    _store_grad(node.variable, grads[0], create_graph, ownership)
                    if node._post_hooks:
                        for hook in list(node._post_hooks.values()):
                            hook()
                continue
            _apply_node(node, grads, buffers, retain_graph)
    finally:
        state.enabled = previous
    return captured


def _apply_node(node: Node, grads: list, buffers: dict, retain_graph: bool) -> None:
    if node._output_meta is not None and node._materialize_grads:
        for i, (shape, dtype) in enumerate(node._output_meta):
            if grads[i] is None:
                grads[i] = make_tensor(np.zeros(shape, dtype))
    results = _call_backward(node, grads)
    edges = node.next_functions
    if len(results) != len(edges):
        if len(results) > len(edges) and all(r is None for r in results[len(edges):]):
            results = results[:len(edges)]
        else:
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {len(edges)}, got {len(results)})")
    if state.anomaly and state.anomaly_check_nan:
        _check_finite(node, results)
    if node._post_hooks:
        for hook in list(node._post_hooks.values()):
            hook(results, tuple(grads))
    for index, ((child, nr), grad, meta) in enumerate(zip(edges, results, node._input_meta)):
        if child is None or grad is None:
            continue
        if type(grad) is not Tensor or grad._data.shape != meta[0] or grad._data.dtype != meta[1]:
            grad = _conform(grad, meta, node, index)
        slots = buffers.get(child)
        if slots is None:
            slots = buffers[child] = [None] * child._num_outputs
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad
    if not retain_graph:
        node._release()


def _call_backward(node: Node, grads: list) -> tuple:
    """The node's gradients: its array form (``backward_arrays``) when no graph is recorded."""
    function = node._function
    if state.enabled or function.backward_arrays is None:
        results = function.backward(node, *grads)
        return results if isinstance(results, tuple) else (results,)
    results = function.backward_arrays(node, *(None if g is None else g._data for g in grads))
    if not isinstance(results, tuple):
        results = (results,)
    return tuple(None if r is None else make_tensor(r) for r in results)


def _store_grad(tensor: Tensor, grad: Tensor, create_graph: bool, ownership: _GradOwnership) -> None:
    if tensor._grad is None:
        tensor._grad = grad if create_graph else ownership.take(grad)
    elif create_graph or tensor._grad._requires_grad:
        # Out of place, and recorded even in a plain backward: a .grad that is part of a
        # graph stays part of it (as in PyTorch).
        previous, state.enabled = state.enabled, True
        try:
            tensor._grad = tensor._grad + grad
        finally:
            state.enabled = previous
    else:
        np.add(tensor._grad._data, grad._data, out=tensor._grad._data, casting="unsafe")
