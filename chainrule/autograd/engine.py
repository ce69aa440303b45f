"""The backward pass: the chain rule applied over the recorded graph, in reverse.

``run_backward`` is the whole algorithm::

    for node in topological_order(roots):       # each node after all that send it gradients
        grads = the gradients waiting at node    # one per output, summed over every sender
        if node is a leaf's AccumulateGrad:
            leaf.grad += grads[0]
        else:
            for edge, grad in zip(node.next_functions, node.backward(*grads)):
                send grad along edge             # summed back to the input's shape first

1. ``topological_order`` is an iterative depth-first search, so deep graphs never hit
   Python's recursion limit.
2. A gradient whose operand was broadcast in the forward is summed back to the operand's
   shape in ``_conform``: in one place for every op.
3. What surrounds the chain rule sits in named helpers: ``_BackwardPass.receive`` runs the
   hooks on a node's incoming gradients (tensor hooks, ``retain_grad``, node pre-hooks) and
   captures those ``autograd.grad(inputs=...)`` asked for; ``_node_gradients`` fills missing
   gradients with zeros, calls the node's backward, checks what it returned (anomaly mode
   too) and runs the node's post-hooks; ``_store_grad`` accumulates into ``.grad`` without
   copying where that is safe (``_GradOwnership``).

Nothing is recorded unless ``create_graph`` asks for it, and NumPy's floating-point warnings
are off for the pass (PyTorch computes inf and nan silently).
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._float_errors import ignore_float_errors, restore_float_errors
from chainrule._tensor import Tensor, make_tensor
from chainrule.autograd.function import AccumulateGrad, Node
from chainrule.autograd.grad_mode import enable_grad, state


def run_backward(roots: list[tuple[Node, int, Tensor]], retain_graph: bool, create_graph: bool,
                 capture: dict | None = None) -> dict:
    """Propagate gradients from ``roots`` (``(node, output_nr, grad)``) to the leaves.

    With ``capture`` (a map from ``(node, output_nr)`` to a key), the gradients
    reaching those places are returned by key instead of accumulated, and only
    the nodes that lead to them run (``autograd.grad`` and ``backward(inputs=...)``).
    """
    with _BackwardPass(roots, create_graph, capture) as backward_pass:
        for node in backward_pass.order:
            grads = backward_pass.receive(node)
            if grads is None:
                continue
            if type(node) is AccumulateGrad:
                backward_pass.accumulate(node, grads[0])
            elif backward_pass.leads_on(node):
                results = _node_gradients(node, grads)
                for index, (child, output_nr) in enumerate(node.next_functions):
                    if child is not None and results[index] is not None:
                        backward_pass.send(child, output_nr, _conform(results[index], node, index))
                if not retain_graph:
                    node._release()
    return backward_pass.captured


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


class _BackwardPass:
    """One backward pass: the gradients waiting at each node, and where the results go.

    As a context manager it records the pass's own ops only for ``create_graph`` and
    silences NumPy's floating-point warnings (the user's settings return afterwards).
    """

    __slots__ = ("create_graph", "capture", "captured", "waiting", "ownership", "order", "needed",
                 "_restore")

    def __init__(self, roots: list, create_graph: bool, capture: dict | None) -> None:
        self.create_graph = create_graph
        self.capture = capture
        self.captured: dict = {}
        self.waiting: dict[Node, list] = {}
        for node, output_nr, grad in roots:
            self.send(node, output_nr, grad)
        self.ownership = _GradOwnership(roots)
        self.order = topological_order(list(self.waiting))
        self.needed = None if capture is None else _nodes_leading_to(
            self.order, {node for node, _ in capture})

    def __enter__(self) -> _BackwardPass:
        self._restore = (state.enabled, ignore_float_errors())
        state.enabled = self.create_graph
        return self

    def __exit__(self, *exc) -> None:
        state.enabled, float_errors = self._restore
        restore_float_errors(float_errors)

    def send(self, node: Node, output_nr: int, grad: Tensor) -> None:
        """Add ``grad`` to what waits at output ``output_nr`` of ``node``."""
        slots = self.waiting.get(node)
        if slots is None:
            slots = self.waiting[node] = [None] * node._num_outputs
        total = slots[output_nr]
        slots[output_nr] = grad if total is None else _sum(total, grad, self.create_graph)

    def receive(self, node: Node) -> list | None:
        """The gradients of ``node``'s outputs after its hooks (``None``: the node does not run)."""
        grads = self.waiting.pop(node, None)
        if grads is None or (self.needed is not None and node not in self.needed):
            return None
        if node._tensor_hooks or node._retain_hooks or node._pre_hooks:
            grads = self._run_hooks(node, grads)
        if self.capture is not None:
            self._capture(node, grads)
        return grads

    def leads_on(self, node: Node) -> bool:
        """Whether the node's gradients are needed further down (always, without capture)."""
        return self.needed is None or any(child in self.needed for child, _ in node.next_functions)

    def accumulate(self, node: AccumulateGrad, grad: Tensor | None) -> None:
        """Add a leaf's gradient into its ``.grad`` (``autograd.grad`` captures it instead)."""
        if self.capture is None and grad is not None:
            _store_grad(node.variable, grad, self.create_graph, self.ownership)
            if node._post_hooks:
                for hook in list(node._post_hooks.values()):
                    hook()

    def _run_hooks(self, node: Node, grads: list) -> list:
        _run_tensor_hooks(node, grads)
        for slot, ref in (node._retain_hooks or {}).items():
            tensor = ref()
            if tensor is not None and grads[slot] is not None:
                _store_grad(tensor, grads[slot], self.create_graph, self.ownership)
        for hook in list((node._pre_hooks or {}).values()):
            result = hook(tuple(grads))
            if result is not None:
                grads = list(result)
        return grads

    def _capture(self, node: Node, grads: list) -> None:
        for slot, grad in enumerate(grads):
            key = self.capture.get((node, slot))
            if key is not None and grad is not None:
                self.captured[key] = grad


def _run_tensor_hooks(node: Node, grads: list) -> None:
    for slot, slot_hooks in (node._tensor_hooks or {}).items():
        for hook in list(slot_hooks.values()):
            if grads[slot] is not None:
                result = hook(grads[slot])
                if result is not None:
                    grads[slot] = result


def _sum(total: Tensor, grad: Tensor, create_graph: bool) -> Tensor:
    """Two gradients of one place; recorded only for ``create_graph``."""
    if create_graph:
        return total + grad
    data = total._data + grad._data
    return make_tensor(data if type(data) is np.ndarray else np.asarray(data))


def _nodes_leading_to(order: list[Node], targets: set[Node]) -> set[Node]:
    needed = set(targets)
    for node in reversed(order):
        if node not in needed:
            for child, _ in node.next_functions:
                if child in needed:
                    needed.add(node)
                    break
    return needed


def _node_gradients(node: Node, grads: list) -> tuple:
    """One gradient per input of ``node`` from those of its outputs, checked, after its hooks."""
    if node._output_meta is not None and node._materialize_grads:
        for i, (shape, dtype) in enumerate(node._output_meta):
            if grads[i] is None:
                grads[i] = make_tensor(np.zeros(shape, dtype))
    results = _call_backward(node, grads)
    if len(results) != len(node.next_functions):
        results = _match_inputs(node, results)
    if state.anomaly and state.anomaly_check_nan:
        _check_finite(node, results)
    if node._post_hooks:
        for hook in list(node._post_hooks.values()):  # a copy: a hook may remove itself
            hook(results, tuple(grads))
    return results


def _call_backward(node: Node, grads: list) -> tuple:
    """The node's gradients: its array form (``backward_arrays``) when no graph is recorded."""
    function = node._function
    if state.enabled or function.backward_arrays is None:
        results = function.backward(node, *grads)
        return results if isinstance(results, tuple) else (results,)
    results = function.backward_arrays(node, *[None if g is None else g._data for g in grads])
    if not isinstance(results, tuple):
        results = (results,)
    return tuple([None if r is None else make_tensor(r) for r in results])


def _match_inputs(node: Node, results: tuple) -> tuple:
    """``results`` with one entry per input: trailing ``None`` beyond them is dropped."""
    expected = len(node.next_functions)
    if len(results) > expected and all(r is None for r in results[expected:]):
        return results[:expected]
    raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                       f"(expected {expected}, got {len(results)})")


def _check_finite(node: Node, grads) -> None:
    for i, g in enumerate(grads):
        if isinstance(g, Tensor) and is_floating_numpy(g._data.dtype) and not np.isfinite(g._data).all():
            kind = "nan" if np.isnan(g._data).any() else "inf"
            trace = "".join(node._forward_trace or ["(no forward traceback recorded)\n"])
            raise RuntimeError(
                f"Function '{node.name()}' returned {kind} values in its {i}th output.\n"
                f"Traceback of the forward call that created it:\n{trace}")


def _conform(grad, node: Node, index: int) -> Tensor:
    """Sum a broadcast gradient back to its input's shape and cast it to the input's dtype."""
    shape, dtype = node._input_meta[index]
    if type(grad) is Tensor and grad._data.shape == shape and grad._data.dtype == dtype:
        return grad
    if not isinstance(grad, Tensor):
        grad = make_tensor(np.asarray(grad))
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


class _GradOwnership:
    """Decides when a gradient array may become a ``.grad`` without a copy.

    A backward may send the same array to several inputs (``AddBackward0``) or
    pass on the one it received; storing it twice would let an in-place change
    of one ``.grad`` alter another. Arrays already handed out, and views, are copied.
    """

    __slots__ = ("seen",)

    def __init__(self, roots: list) -> None:
        self.seen = {id(grad._data) for _, _, grad in roots}

    def take(self, grad: Tensor) -> Tensor:
        data = grad._data
        if data.base is not None or id(data) in self.seen or not data.flags.writeable:
            data = data.copy()
        self.seen.add(id(data))
        return make_tensor(data)


def _store_grad(tensor: Tensor, grad: Tensor, create_graph: bool, ownership: _GradOwnership) -> None:
    if tensor._grad is None:
        tensor._grad = grad if create_graph else ownership.take(grad)
    elif create_graph or tensor._grad._requires_grad:
        # Out of place, and recorded even in a plain backward: a .grad that is part of a
        # graph stays part of it (as in PyTorch).
        with enable_grad():
            tensor._grad = tensor._grad + grad
    else:
        np.add(tensor._grad._data, grad._data, out=tensor._grad._data, casting="unsafe")
