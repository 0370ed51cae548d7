"""The check a compiled tape runs on every call, generated as straight-line code when f is
recorded: each kind of binding f can read besides x, changed after the recording, makes
the next call record f again and return eager ad.grad's gradient; unchanged, it does not."""

import functools
import types

import numpy as np
import pytest

import ad

X = np.array([0.5, -1.0, 2.0])


def _grad_after(f, change):
    """The compiled gradient after change(), the eager one, and the number of recordings."""
    c = ad.compile(f, X)
    np.testing.assert_allclose(c.grad(X), ad.grad(f)(X), rtol=1e-13)
    c.grad(X)
    assert c.records == 1  # nothing changed: no second recording
    change()
    return c.grad(X), ad.grad(f)(X), c.records


def closure_cell():
    scale = 2.0

    def f(x):
        return np.sum(scale * x * x)

    def change():
        nonlocal scale
        scale = 7.0

    return f, change


def global_name():
    scope = {"np": np, "scale": 2.0}
    code = compile("lambda x: np.sum(scale * x * x)", "<f>", "eval").co_consts[0]
    return types.FunctionType(code, scope), lambda: scope.__setitem__("scale", 7.0)


def default_argument():
    def f(x, scale=2.0):
        return np.sum(scale * x * x)

    return f, lambda: setattr(f, "__defaults__", (7.0,))


def keyword_default_rebound():
    def f(x, *, scale=2.0):
        return np.sum(scale * x * x)

    return f, lambda: setattr(f, "__kwdefaults__", {"scale": 7.0})


def keyword_default_entry():
    def f(x, *, scale=2.0):
        return np.sum(scale * x * x)

    return f, lambda: f.__kwdefaults__.__setitem__("scale", 7.0)


def keyword_default_of_a_helper():
    def helper(x, *, scale=2.0):
        return scale * x * x

    return (lambda x: np.sum(helper(x))), lambda: setattr(helper, "__kwdefaults__", {"scale": 7.0})


def default_of_a_helper():
    def helper(x, scale=2.0):
        return scale * x * x

    return (lambda x: np.sum(helper(x))), lambda: setattr(helper, "__defaults__", (7.0,))


def dict_entry():
    params = {"scale": 2.0}
    return (lambda x: np.sum(params["scale"] * x * x)), lambda: params.__setitem__("scale", 7.0)


def dict_entry_removed():
    params = {"scale": 2.0}
    return (lambda x: np.sum(params.get("scale", 7.0) * x * x)), lambda: params.pop("scale")


def dict_entry_of_a_key_without_a_literal():
    params = {(1, "a"): 2.0, True: 3.0, 1.5: 4.0}
    f = lambda x: np.sum(params[(1, "a")] * params[True] * params[1.5] * x * x)  # noqa: E731
    return f, lambda: params.__setitem__(1.5, 7.0)


def list_entry():
    weights = [2.0, 3.0]
    return (lambda x: np.sum(weights[1] * x * x)), lambda: weights.__setitem__(1, 7.0)


def list_entry_appended():
    weights = [2.0]
    return (lambda x: np.sum(sum(weights) * x * x)), lambda: weights.append(7.0)


def long_list_entry():  # more entries than are written out one by one: read in one call
    weights = [float(i) for i in range(100)]
    return (lambda x: np.sum(weights[60] * x * x)), lambda: weights.__setitem__(60, 7.0)


def long_dict_entry():
    params = {f"w{i}": float(i) for i in range(100)}
    return (lambda x: np.sum(params["w60"] * x * x)), lambda: params.__setitem__("w60", 7.0)


def _many(position):
    """A kind of binding among more of its kind than the check writes out one by one: the
    one changed is read in the check's loops at one position or the other."""

    def entry_of_one_of_many_dicts():
        rows = [{"w": float(i)} for i in range(600)]
        return (lambda x: np.sum(rows[position]["w"] * x * x)), lambda: rows[position].__setitem__("w", 7.0)

    def one_of_many_lists_appended():
        rows = [[float(i)] for i in range(600)]
        return (lambda x: np.sum(sum(rows[position]) * x * x)), lambda: rows[position].append(7.0)

    def one_of_many_arrays_changed_in_place():
        rows = [np.full(2, float(i)) for i in range(600)]
        return (lambda x: np.sum(rows[position][0] * x * x)), lambda: rows[position].__setitem__(0, 7.0)

    kinds = [entry_of_one_of_many_dicts, one_of_many_lists_appended, one_of_many_arrays_changed_in_place]
    for kind in kinds:
        kind.__name__ += f"_at_{position}"
    return kinds


def attribute():
    class Model:
        scale = None

    model = Model()
    model.scale = 2.0
    return (lambda x: np.sum(model.scale * x * x)), lambda: setattr(model, "scale", 7.0)


def attribute_whose_name_is_no_identifier():
    class Model:
        pass

    model = Model()
    setattr(model, "the scale", 2.0)
    f = lambda x: np.sum(getattr(model, "the scale") * x * x)  # noqa: E731
    return f, lambda: setattr(model, "the scale", 7.0)


def bound_method_object():
    class Model:
        def __init__(self):
            self.scale = 2.0

        def loss(self, x):
            return np.sum(self.scale * x * x)

    model = Model()
    return model.loss, lambda: setattr(model, "scale", 7.0)


def callable_object_call_redefined():
    class Loss:
        def __call__(self, x):
            return np.sum(2.0 * x * x)

    loss = Loss()
    return loss, lambda: setattr(Loss, "__call__", lambda self, x: np.sum(7.0 * x * x))


def partial_keyword():
    def g(x, scale):
        return np.sum(scale * x * x)

    f = functools.partial(g, scale=2.0)
    return f, lambda: f.keywords.__setitem__("scale", 7.0)


def set_member_replaced_by_an_equal_one():
    scales = {2}
    return (lambda x: np.sum(next(iter(scales)) / 3 * x * x)), lambda: (scales.clear(), scales.add(2.0))


def array_changed_in_place():
    A = np.array([2.0, 3.0, 4.0])
    return (lambda x: np.sum(A * x * x)), lambda: A.__setitem__(1, 7.0)


def array_reshaped_in_place():
    A = np.array([2.0, 3.0, 4.0])
    return (lambda x: np.sum(A * x * x)), lambda: setattr(A, "shape", (1, 3))


def array_sign_of_zero_changed():  # the bits: -0.0 for 0.0 is a change
    A = np.array([0.0, 3.0, 4.0])
    return (lambda x: np.sum(np.arctan2(A, -1.0) * x)), lambda: A.__setitem__(0, -0.0)


def large_array_changed_in_place():  # compared in place rather than copied
    A = np.linspace(1.0, 2.0, 40_000)
    A[-1] = 0.0
    return (lambda x: np.sum(A[:3] * x * x)), lambda: A.__setitem__(-1, -0.0)


def large_array_entry_read_changed_in_place():
    A = np.linspace(1.0, 2.0, 40_000)
    return (lambda x: np.sum(A[:3] * x * x)), lambda: A.__setitem__(1, 7.0)


def large_strided_array_changed_in_place():
    A = np.linspace(1.0, 2.0, 80_000).reshape(400, 200)[:, ::2]
    return (lambda x: np.sum(A[0, :3] * x * x)), lambda: A.__setitem__((399, 99), 7.0)


def array_rebound():
    A = np.array([2.0, 3.0, 4.0])

    def f(x):
        return np.sum(A * x * x)

    def change():
        nonlocal A
        A = np.full(3, 7.0)

    return f, change


def helper_function_redefined():
    def helper(x):
        return np.sin(x)

    def f(x):
        return np.sum(helper(x))

    def change():
        nonlocal helper
        helper = np.cos

    return f, change


KINDS = [
    closure_cell,
    global_name,
    default_argument,
    keyword_default_rebound,
    keyword_default_entry,
    keyword_default_of_a_helper,
    default_of_a_helper,
    dict_entry,
    dict_entry_removed,
    dict_entry_of_a_key_without_a_literal,
    list_entry,
    list_entry_appended,
    long_list_entry,
    long_dict_entry,
    attribute,
    attribute_whose_name_is_no_identifier,
    bound_method_object,
    callable_object_call_redefined,
    partial_keyword,
    set_member_replaced_by_an_equal_one,
    array_changed_in_place,
    array_reshaped_in_place,
    array_sign_of_zero_changed,
    large_array_changed_in_place,
    large_array_entry_read_changed_in_place,
    large_strided_array_changed_in_place,
    array_rebound,
    helper_function_redefined,
    *_many(0),
    *_many(-1),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_each_kind_of_binding_changed_records_again(kind):
    f, change = kind()
    got, expected, records = _grad_after(f, change)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert records == 2


def test_a_closure_cell_empty_when_recorded_and_filled_after_records_again():
    def make():
        def f(x):
            return np.sum(scale * x * x) if switch else np.sum(x * x)

        def fill(value):
            nonlocal scale
            scale = value

        if not switch:  # never runs: scale is a cell, empty until fill
            scale = None  # noqa: F841
        return f, fill

    switch = [None]
    f, fill = make()
    switch.clear()
    got, expected, records = _grad_after(f, lambda: fill(7.0))  # the empty cell is filled
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert records == 2


def test_a_function_that_reads_nothing_mutable_checks_nothing():
    c = ad.compile(np.sum, X)  # library code is not walked: no binding to check
    assert c.environment.changed() is False
    assert c.environment.changed.__code__.co_argcount == 0
    c.grad(X)
    assert c.records == 1


def test_recording_again_reuses_the_generated_check():
    A = np.array([2.0, 3.0, 4.0])
    f = lambda x: np.sum(A * x * x)  # noqa: E731
    c = ad.compile(f, X)
    before = c.environment.changed
    A[0] = 5.0
    np.testing.assert_allclose(c.grad(X), ad.grad(f)(X), rtol=1e-13)
    assert c.records == 2
    assert c.environment.changed is not before  # bound to the new bytes of A ...
    assert c.environment.changed.__code__ is before.__code__  # ... by the same compiled code


def test_defaults_set_on_a_function_without_such_parameters_record_nothing():
    def scale():
        return 2.0

    f = lambda x: np.sum(scale() * x * x)  # noqa: E731

    def change():  # no parameter of scale or f takes these: both functions are unchanged
        scale.__defaults__ = (7.0,)
        scale.__kwdefaults__ = {"k": 7.0}
        f.__kwdefaults__ = {"k": 7.0}

    got, expected, records = _grad_after(f, change)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert records == 1
