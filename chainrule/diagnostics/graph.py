"""``draw_graph``: the autograd graph behind a tensor, as Graphviz DOT text (rendered if possible)."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

from chainrule.serialization import atomic_writer

__all__ = ["draw_graph", "render_graph", "graphviz_missing"]


def _shape(shape) -> str:
    return str(tuple(shape))


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _roots(output) -> list:
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    return [t for t in outputs if t.grad_fn is not None or getattr(t, "requires_grad", False)]


def draw_graph(output, params: dict | None = None, path: str | os.PathLike | None = None,
               format: str = "svg") -> str:  # noqa: A002 - graphviz's own name
    """The backward graph that ``output.backward()`` would run, as DOT text.

    Each op node shows its ``grad_fn`` name (``AddmmBackward0``, ``ReluBackward0`` ...) and the
    shape of the tensor it made; each leaf (``AccumulateGrad``) shows the parameter's name from
    ``params`` (e.g. ``dict(model.named_parameters())``) and its shape. Edges point the way the
    forward pass went. With ``path``, renders ``format`` (svg, png, pdf ...) with the Graphviz
    ``dot`` program if it is installed, else writes the DOT text to ``path`` with a ``.dot``
    suffix and warns.

    >>> import chainrule as torch
    >>> model = torch.nn.Linear(3, 2)
    >>> dot = draw_graph(model(torch.randn(4, 3)).sum(), dict(model.named_parameters()))
    >>> "SumBackward0" in dot and "weight" in dot
    True
    """
    names = {id(p): name for name, p in (params or {}).items()}
    shapes: dict[int, str] = {}
    lines = ["digraph autograd {",
             '  graph [rankdir=BT, fontsize=10];',
             '  node [shape=box, style=filled, fontname="Helvetica", fontsize=10];']
    edges: list[str] = []
    seen: set[int] = set()
    nodes: list = []
    stack = []
    for tensor in _roots(output):
        node = tensor.grad_fn if tensor.grad_fn is not None else tensor._accumulator_node()
        shapes.setdefault(id(node), _shape(tensor.shape))
        stack.append(node)
        lines.append(f'  "out{id(tensor)}" [label="output\\n{_shape(tensor.shape)}", '
                     'fillcolor="darkolivegreen1"];')
        edges.append(f'  "{id(node)}" -> "out{id(tensor)}";')
    while stack:  # iterative: deep networks would overflow Python's recursion limit
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        metas = getattr(node, "_input_meta", ()) or ()
        for i, edge in enumerate(node.next_functions):
            if edge is None or edge[0] is None:
                continue
            child = edge[0]
            if i < len(metas) and metas[i] is not None:
                shapes.setdefault(id(child), _shape(metas[i][0]))
            edges.append(f'  "{id(child)}" -> "{id(node)}";')
            if id(child) not in seen:
                stack.append(child)
    for node in nodes:
        variable = getattr(node, "variable", None)
        if variable is not None:
            label = f"{names.get(id(variable), 'leaf')}\\n{_shape(variable.shape)}"
            lines.append(f'  "{id(node)}" [label={_quote(label)}, fillcolor="lightblue"];')
        else:
            shape = shapes.get(id(node))
            label = node.name() + (f"\\n{shape}" if shape else "")
            lines.append(f'  "{id(node)}" [label={_quote(label)}, fillcolor="lightgrey"];')
    dot = "\n".join(lines + edges + ["}"]) + "\n"
    if path is not None:
        render_graph(dot, path, format)
    return dot


def render_graph(dot: str, path: str | os.PathLike, format: str = "svg") -> None:  # noqa: A002
    """Render DOT text to ``path`` with Graphviz's ``dot`` program; ``format="dot"``, or no
    ``dot`` program (with a warning), writes the DOT text itself (to a ``.dot`` file)."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    program = shutil.which("dot")
    if program is not None and format != "dot":
        subprocess.run([program, f"-T{format}", "-o", path], input=dot, text=True, check=True)
        return
    dot_path = path if path.endswith(".dot") else os.path.splitext(path)[0] + ".dot"
    with atomic_writer(dot_path) as handle:
        handle.write(dot.encode())
    if format != "dot":
        warnings.warn(graphviz_missing(dot_path, path, format), stacklevel=2)


def graphviz_missing(dot_path: str, path: str, format: str = "svg") -> str:  # noqa: A002
    """What to say when Graphviz's ``dot`` program is not there to render ``path``."""
    return (f"Could not render the autograd graph as {path}: Graphviz's 'dot' program is "
            f"not installed (install Graphviz, e.g. apt-get install graphviz or brew install "
            f"graphviz); the DOT text is in {dot_path} (render it with: dot -T{format} "
            f"{dot_path} -o {path})")
