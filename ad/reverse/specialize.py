"""Straight-line code for one recorded program: value_and_grad with no interpreter loop.

The interpreter (replay.py) reads an opcode per instruction and keeps every value in
memory. For a small program it pays to generate the program itself as Python source
(one line per instruction, one local variable per slot) and let numba/LLVM compile it:
values and partials live in registers, and the reverse sweep is straight-line
multiply-adds. Compiling costs about a second per few hundred instructions, so this is
opt-in (`ad.compile(f, x, specialize=True)`) and capped at MAX_INSTRUCTIONS; generated
functions are memoised by their source within the process (a guard that flips back and
forth does not recompile).
"""

from __future__ import annotations

MAX_INSTRUCTIONS = 2000
_compiled: dict[str, object] = {}


def source(code, a, b, out, live_a, live_b, guards, n_in, names, ct_start) -> str:
    """Python source of vg(work): forward, guards, reverse; returns -1 or a failed guard.

    work is the replay's work array (replay.workspace): the slot values from 0, the slot
    cotangents from ct_start. vg writes the output's value to its slot and the inputs'
    cotangents, and nothing else. Its reverse lines are the interpreter's
    (ad/reverse/replay.py) with its zeros made static: a term that is not live is not
    written, and cotangents start at -0.0.
    """
    produced = set(out.tolist())
    read = (set(a.tolist()) | set(b.tolist()) | set(guards[1].tolist()) | set(guards[2].tolist())) - produced
    lines = ["def vg(work):"]
    lines += [f"    s{k} = work[{k}]" for k in sorted(read | set(range(n_in)))]
    for i in range(len(code)):
        lines.append(f"    s{out[i]}, p{i}, q{i} = op_{names[code[i]]}(s{a[i]}, s{b[i]})")
    for i, (c, ga, gb, seen) in enumerate(zip(*guards)):
        lines.append(f"    if compare({names[c].upper()}, s{ga}, s{gb}) != {bool(seen)}:")
        lines.append(f"        return {i}")
    slots = sorted(produced | read | set(range(n_in)))
    lines += [f"    c{k} = -0.0" for k in slots]
    lines.append(f"    work[{out[-1]}] = s{out[-1]}")
    lines.append(f"    c{out[-1]} = 1.0")
    for i in range(len(code) - 1, -1, -1):
        if live_a[i]:
            lines.append(f"    c{a[i]} += c{out[i]} * p{i}")
        if live_b[i]:
            lines.append(f"    c{b[i]} += c{out[i]} * q{i}")
    lines += [f"    work[{ct_start + k}] = c{k}" for k in range(n_in)]
    lines.append("    return -1")
    return "\n".join(lines)


def value_and_grad(program, n_in):
    """A compiled vg(work) for this packed program (replay.pack), or None if it is too long
    to specialise or its output is not a scalar. Like the interpreter's entry, it takes the
    replay's work array alone: numba's dispatcher pays for each argument on every call."""
    from ad.reverse import replay

    code, a, b, out, live_a, live_b, _, _, *guards = replay.sections.py_func(program)
    n, result = len(code), program[replay.RESULT]
    if n > MAX_INSTRUCTIONS or n == 0 or out[-1] != result:
        return None
    from numba import njit

    names = {c: name for name, c in replay.OPCODES.items()}
    ct_start = int(program[replay.SLOTS]) + 2 * n  # replay.workspace's layout
    src = source(code, a, b, out, live_a, live_b, guards, n_in, names, ct_start)
    if src not in _compiled:
        scope = {f"op_{name}": f for name, f in replay.OPS.items()}
        scope |= {name.upper(): c for name, c in replay.OPCODES.items() if c >= replay.GUARD}
        scope["compare"] = replay.compare
        exec(src, scope)
        _compiled[src] = njit(error_model="numpy")(scope["vg"])
    return _compiled[src]
