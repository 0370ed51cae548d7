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


def source(code, a, b, out, live_a, live_b, guards, n_in, names) -> str:
    """Python source of vg(v, ct, result): forward, guards, reverse; returns -1 or a failed guard.

    The reverse lines are the interpreter's (ad/reverse/replay.py) with its zeros made
    static: a term that is not live is not written, and cotangents start at -0.0.
    """
    produced = set(out.tolist())
    read = (set(a.tolist()) | set(b.tolist()) | set(guards[1].tolist()) | set(guards[2].tolist())) - produced
    lines = ["def vg(v, ct, result):"]
    lines += [f"    s{k} = v[{k}]" for k in sorted(read | set(range(n_in)))]
    for i in range(len(code)):
        lines.append(f"    s{out[i]}, p{i}, q{i} = op_{names[code[i]]}(s{a[i]}, s{b[i]})")
    for i, (c, ga, gb, seen) in enumerate(zip(*guards)):
        lines.append(f"    if compare({names[c].upper()}, s{ga}, s{gb}) != {bool(seen)}:")
        lines.append(f"        return {i}")
    slots = sorted(produced | read | set(range(n_in)))
    lines += [f"    c{k} = -0.0" for k in slots]
    lines.append(f"    v[result] = s{out[-1]}")
    lines.append(f"    c{out[-1]} = 1.0")
    for i in range(len(code) - 1, -1, -1):
        if live_a[i]:
            lines.append(f"    c{a[i]} += c{out[i]} * p{i}")
        if live_b[i]:
            lines.append(f"    c{b[i]} += c{out[i]} * q{i}")
    lines += [f"    ct[{k}] = c{k}" for k in range(n_in)]
    lines.append("    return -1")
    return "\n".join(lines)


def value_and_grad(code, a, b, out, live_a, live_b, guards, n_in, result_slot):
    """A compiled vg(v, ct, result) for this program, or None if it is too long to specialise."""
    if len(code) > MAX_INSTRUCTIONS or len(code) == 0 or out[-1] != result_slot:
        return None
    from numba import njit

    from ad.reverse import replay

    names = {c: n for n, c in replay.OPCODES.items()}
    src = source(code, a, b, out, live_a, live_b, guards, n_in, names)
    if src not in _compiled:
        scope = {f"op_{n}": f for n, f in replay.OPS.items()}
        scope |= {n.upper(): c for n, c in replay.OPCODES.items() if c >= replay.GUARD}
        scope["compare"] = replay.compare
        exec(src, scope)
        _compiled[src] = njit(error_model="numpy")(scope["vg"])
    return _compiled[src]
