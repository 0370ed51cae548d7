"""PyTorch's `torch.autograd` entry points on ad.Tensor: `grad` returns gradients, `backward` adds them.

Both run one reverse sweep in PyTorch's convention (conjugate Wirtinger gradients for
complex values) from several outputs at once; given inputs, the sweep runs only the nodes
that lead to them, so a hook elsewhere does not fire and a value elsewhere that was
overwritten in place does not raise. Used as PyTorch's is: ``ad.autograd.grad(...)``, or
``from ad.autograd import grad``. (``ad.grad`` differentiates a function; this ``grad``
differentiates a graph that Tensors have already recorded.)
"""

from __future__ import annotations

import numpy as np

from ad.reverse.backward import pull
from ad.reverse.backward import tensors as as_tensors
from ad.reverse.tensor import Tensor
from ad.trace import raw


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of sum(grad_outputs . outputs) with respect to each input, as a tuple
    (torch.autograd.grad): a Tensor shaped and typed like its input, or None for an input
    the outputs do not reach when allow_unused. Nothing is accumulated into any .grad.

    outputs, inputs: a Tensor or a sequence of them; grad_outputs: one gradient per output
    (None, or None entries, for 1 on a real scalar). With create_graph the gradients carry
    history and can be differentiated again; the graph is then kept unless retain_graph=False.
    """
    outputs = as_tensors(outputs, "grad: outputs")
    if not outputs:
        raise RuntimeError("grad: outputs is empty; pass the Tensors to differentiate")
    seeds = _per_output(grad_outputs, len(outputs))
    named = as_tensors(inputs, "grad: inputs")
    found = pull(
        outputs,
        seeds,
        retain_graph=retain_graph,
        create_graph=create_graph,
        inputs=named,
        returns=True,
        who="grad",
    )
    out = []
    for i, (x, g) in enumerate(zip(named, found)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph: the outputs do not depend on it. Set allow_unused=True to get None for it"
                )
            out.append(None)
        elif isinstance(g, Tensor):  # it carries history (create_graph): kept as it is
            out.append(g if g.dtype == x.dtype else g.astype(x.dtype))
        else:  # a copy: the sweep may have stored the same array as a retained .grad
            out.append(Tensor(np.array(raw(g), dtype=x.dtype, copy=True), level=x.level))
    return tuple(out)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of sum(grad_tensors . tensors) into the leaves' .grad, in one
    sweep (torch.autograd.backward); with inputs, into theirs alone, as Tensor.backward."""
    outputs = as_tensors(tensors, "backward: tensors")
    if not outputs:
        raise RuntimeError("backward: tensors is empty; pass the Tensors to differentiate")
    seeds = _per_output(grad_tensors, len(outputs))
    pull(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


def _per_output(given, n: int) -> list:
    """One gradient (or None) per output from a gradient, a sequence of them, or None."""
    if given is None:
        return [None] * n
    if isinstance(given, Tensor | np.ndarray | np.generic | int | float | complex):
        given = [given]
    given = list(given)
    if len(given) != n:
        raise RuntimeError(f"{len(given)} gradients were given for {n} outputs; pass one per output")
    return given
