"""rnnjax as a library (issue 33): one way to feed a cell, cells as values, dtypes and
initialisers, sampling memories under nnx, module surfaces, a light core."""

import importlib
import pickle
import pkgutil
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen, nnx

import rnnjax
from rnnjax import cells, memory
from rnnjax import nnx as rnnx

D, H, T = 4, 5, 6
KEY = jax.random.key(0)
XS = jax.random.normal(jax.random.key(1), (T, D))

HOISTABLE = {
    "elman": lambda hoist: cells.elman(H, hoist=hoist),
    "lstm": lambda hoist: cells.lstm(H, hoist=hoist),
    "gru-before": lambda hoist: cells.gru(H, reset="before", hoist=hoist),
    "gru-after": lambda hoist: cells.gru(H, reset="after", hoist=hoist),
    "doubling_lstm": lambda hoist: cells.doubling_lstm(H, hoist=hoist),
    "layers": lambda hoist: rnnjax.layers(cells.lstm(H, hoist=hoist), cells.gru(3, hoist=hoist)),
    "lstm+stack": lambda hoist: memory.augment(cells.lstm(H, hoist=hoist), memory.stack(2), capacity=T),
}


@pytest.mark.parametrize("name", sorted(HOISTABLE))
def test_calling_a_cell_on_raw_inputs_gives_the_same_outputs_hoisted_or_not(name):
    hoisted, in_step = HOISTABLE[name](True), HOISTABLE[name](False)
    assert "hoist=True" in hoisted.name and "hoist=False" in in_step.name
    params = hoisted.init(KEY, D)
    outputs = {}
    for cell in (hoisted, in_step):
        state, ys = cell.initial_state(params), []
        for x in XS:
            state, y = cell(params, state, x)
            ys.append(y)
        outputs[cell.name] = jnp.stack(ys)
        chex.assert_trees_all_close(outputs[cell.name], rnnjax.scan(cell, params, XS)[1], atol=1e-5)
    chex.assert_trees_all_close(*outputs.values(), atol=1e-5)


def test_hoisting_is_resolved_when_the_cell_is_built():
    default = cells.lstm(H)
    assert default == cells.lstm(H, hoist=rnnjax.cells.default_hoist())
    assert f"hoist={rnnjax.cells.default_hoist()}" in default.name and "hoist=" in repr(default)


def test_wrong_shapes_name_the_expected_one_before_tracing():
    cell = cells.lstm(8)
    params = cell.init(KEY, D)
    state = cell.initial_state(params)
    with pytest.raises(ValueError, match=r"xs must be \[T, 4\], got shape \(3, 10, 4\).*jax.vmap.*rnnjax.nnx.RNN"):
        rnnjax.scan(cell, params, jnp.zeros((3, 10, D)))
    with pytest.raises(ValueError, match=r"built for input_dim 4, so xs must be \[T, 4\]; got shape \(10, 5\)"):
        rnnjax.scan(cell, params, jnp.zeros((10, 5)))
    with pytest.raises(ValueError, match=r"x must be \[4\], got shape \(2, 4\).*rnnjax.nnx.Cell"):
        cell(params, state, jnp.zeros((2, D)))
    with pytest.raises(ValueError, match=r"built for input_dim 4, so xs must be \[T, 4\]"):
        rnnjax.trace(cell, params, jnp.zeros((T, 3)))
    stacked = memory.augment(cell, memory.stack(2), capacity=T)
    with pytest.raises(ValueError, match=r"built for input_dim 4, so xs must be \[T, 4\]"):
        rnnjax.scan(stacked, stacked.init(KEY, D), jnp.zeros((T, 6)))
    with pytest.raises(ValueError, match=r"layers\(\) takes Cells, got 8 \(int\)"):
        rnnjax.layers(8)


def _values():
    """name -> builder of one value; every registered cell and memory, and the composites."""
    made = {f"cell {n}": (lambda n=n: cells.CELLS[n](H)) for n in cells.CELLS}
    made |= {f"memory {n}": (lambda n=n: memory.MEMORIES[n]()) for n in memory.MEMORIES}
    made["layers"] = lambda: rnnjax.layers(cells.lstm(H), cells.qrnn(H, width=3))
    made["augment"] = lambda: memory.augment(cells.gru(H, reset="after"), memory.ntm(4, 2), capacity=16)
    made["real semiring"] = lambda: memory.nondeterministic_stack(semiring=memory.semiring.REAL)
    return made


VALUES = _values()


@pytest.mark.parametrize("name", sorted(VALUES))
def test_cells_and_memories_are_values(name):
    value, again = VALUES[name](), VALUES[name]()
    assert value == again and hash(value) == hash(again) and value is not again
    restored = pickle.loads(pickle.dumps(value))
    assert restored == value and restored.name == value.name
    assert "0x" not in repr(value), repr(value)
    assert eval(repr(value), vars(cells) | vars(memory) | {"layers": rnnjax.layers, "REAL": memory.semiring.REAL})\
        == value


def test_different_arguments_make_different_values():
    assert cells.lstm(8) == cells.lstm(8) and cells.lstm(8) != cells.lstm(9)
    assert cells.lstm(8) != cells.lstm(8, forget_bias=0.0) and cells.lstm(8) != cells.doubling_lstm(8)
    assert repr(cells.lstm(8, hoist=False)) == "lstm(8, hoist=False)"
    assert repr(memory.augment(cells.lstm(8, hoist=False), memory.stack(4), 64)) == \
        "augment(lstm(8, hoist=False), stack(width=4), 64)"
    assert len({cells.lstm(8), cells.lstm(8), cells.gru(8)}) == 2


def test_a_hand_written_cell_equals_only_itself_and_says_why_it_cannot_be_pickled():
    cell = cells.Cell("mine", 1, lambda key, d: {}, lambda p: jnp.zeros(1), lambda p, xs: xs,
                      lambda p, s, u: (s, s))
    assert cell == cell and cell != cells.Cell(*[getattr(cell, f) for f in ("name", "output_dim", "init",
                                                                           "initial_state", "project", "step")])
    with pytest.raises(pickle.PicklingError, match="not made by an @rnnjax.builder function"):
        pickle.dumps(cell)


def test_a_rebuilt_cell_is_the_same_static_argument_of_jit():
    traces = []

    @jax.jit
    def run(params, xs):
        return rnnjax.scan(cells.lstm(H), params, xs)[1]

    def counted(cell, params, xs):
        traces.append(cell)
        return rnnjax.scan(cell, params, xs)[1]

    static = jax.jit(counted, static_argnums=0)
    params = cells.lstm(H).init(KEY, D)
    for _ in range(3):
        static(memory.augment(cells.lstm(H), memory.stack(2), T), memory.augment(cells.lstm(H), memory.stack(2), T)
               .init(KEY, D), XS)
    assert len(traces) == 1
    chex.assert_trees_all_close(run(params, XS), rnnjax.scan(cells.lstm(H), params, XS)[1])


class _Tagger(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(5, D, rngs=rngs)
        self.rnn = rnnx.RNN(memory.augment(cells.lstm(H), memory.stack(2), capacity=16), D, rngs=rngs)
        self.readout = nnx.Linear(self.rnn.cell.output_dim, 5, rngs=rngs)

    def __call__(self, tokens):
        return self.readout(self.rnn(self.embed(tokens)))


def test_a_rebuilt_nnx_model_traces_once_under_nnx_jit():
    traces = []

    @nnx.jit
    def forward(model, tokens):
        traces.append(1)
        return model(tokens)

    tokens = jnp.arange(12).reshape(2, 6) % 5
    outputs = [forward(_Tagger(nnx.Rngs(seed)), tokens) for seed in range(3)]
    assert len(traces) == 1
    assert not np.allclose(outputs[0], outputs[1])  # the same program, other params
    abstract = nnx.eval_shape(lambda: _Tagger(nnx.Rngs(0)))  # orbax's restore pattern builds the model again
    assert nnx.graphdef(abstract) == nnx.graphdef(_Tagger(nnx.Rngs(1)))


@pytest.mark.parametrize("build", [cells.lstm, cells.gru, cells.elman, cells.doubling_lstm, cells.qrnn])
def test_dtype_and_param_dtype_follow_flax(build):
    cell = build(H, dtype=jnp.bfloat16, param_dtype=jnp.float16)
    params = cell.init(KEY, D)
    assert {p.dtype for p in jax.tree_util.tree_leaves(params)} == {jnp.dtype(jnp.float16)}
    final, ys = rnnjax.scan(cell, params, XS)
    assert ys.dtype == jnp.bfloat16
    assert {s.dtype for s in jax.tree_util.tree_leaves(final)} == {jnp.dtype(jnp.bfloat16)}
    reference = rnnjax.scan(build(H), jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params), XS)[1]
    np.testing.assert_allclose(ys.astype(jnp.float32), reference, atol=0.05)
    assert cells.lstm(H).init(KEY, D)["wx"].dtype == jnp.float32


def test_initialisers_are_arguments_per_weight_group():
    ones = jax.nn.initializers.ones
    params = cells.lstm(H, kernel_init=ones, recurrent_kernel_init=jax.nn.initializers.zeros,
                        bias_init=ones).init(KEY, D)
    np.testing.assert_array_equal(params["wx"], 1.0)
    np.testing.assert_array_equal(params["wh"], 0.0)
    forget = slice(H, 2 * H)
    np.testing.assert_array_equal(params["b"][forget], 1.0)  # forget_bias is set after bias_init
    np.testing.assert_array_equal(np.delete(np.asarray(params["b"]), np.arange(H, 2 * H)), 1.0)
    default = cells.lstm(H).init(KEY, D)
    assert np.allclose(default["wh"][:, :H] @ default["wh"][:, :H].T, np.eye(H), atol=1e-5)  # orthogonal per gate
    np.testing.assert_array_equal(cells.qrnn(H, bias_init=ones).init(KEY, D)["b"], 1.0)
    actions = memory.augment(cells.lstm(H), memory.stack(2), 8, kernel_init=jax.nn.initializers.zeros).init(KEY, D)
    np.testing.assert_array_equal(actions["actions"]["w"], 0.0)


@pytest.mark.parametrize("name", sorted(memory.MEMORIES))
def test_float16_memories_run_close_to_float32(name):
    options = {"nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2},
               "normalised_nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2},
               "vector_nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2, "memory_width": 2},
               "ntm": {"ntm_slots": 4}}.get(name, {})
    built = memory.MEMORIES[name](**options)
    half = memory.augment(cells.lstm(H, dtype=jnp.float16), built, 16, dtype=jnp.float16)
    full = memory.augment(cells.lstm(H), built, 16)
    params = full.init(KEY, D)
    ys_half = rnnjax.scan(half, params, XS)[1]
    assert ys_half.dtype == jnp.float16 and bool(jnp.isfinite(ys_half).all()), ys_half
    np.testing.assert_allclose(ys_half.astype(jnp.float32), rnnjax.scan(full, params, XS)[1], atol=0.02)


def test_gru_reset_after_is_linen_gru_with_a_zero_hidden_bias():
    """The docstring's claim: flax.linen.GRUCell (and torch's GRU) add b_hn inside the reset
    product; with b_hn = 0 they are reset="after"."""
    cell = cells.gru(H, reset="after")
    params = cell.init(KEY, D)
    linen_cell = linen.GRUCell(H)
    variables = linen_cell.init(KEY, jnp.zeros(H), XS[0])
    wx, wh, b = (np.split(np.asarray(params[k]), 3, axis=-1) for k in ("wx", "wh", "b"))
    flat = dict(variables["params"])
    for gate, k in zip("rzn", range(3)):
        flat[f"i{gate}"] = {"kernel": wx[k], "bias": b[k]}
        flat[f"h{gate}"] = {"kernel": wh[k], **({"bias": np.zeros(H, np.float32)} if gate == "n" else {})}
    h, expected = jnp.zeros(H), []
    for x in XS:
        h, y = linen_cell.apply({"params": flat}, h, x)
        expected.append(y)
    chex.assert_trees_all_close(rnnjax.scan(cell, params, XS)[1], jnp.stack(expected), atol=1e-5)


SAMPLING = memory.augment(cells.lstm(H), memory.ntm(4, 2, addressing="hard"), capacity=16)


def test_nnx_rnn_draws_a_sampling_memorys_choices_from_its_rngs():
    rnn = rnnx.RNN(SAMPLING, D, rngs=nnx.Rngs(params=0, sample=1))
    xs = jnp.stack([XS, XS])
    first, second = rnn(xs, return_state=True), rnn(xs, return_state=True)
    assert not np.allclose(rnn.log_prob(first[0]), rnn.log_prob(second[0]))  # a new key per call
    assert rnn.log_prob(first[0]).shape == (2,) and float(rnn.log_prob(first[0]).max()) < 0.0
    key = jax.random.key(5)
    with_key = rnn(xs, key=key, return_state=True)
    chex.assert_trees_all_close(with_key, rnn(xs, key=key, return_state=True))
    keys = jax.random.split(key, 2)
    state = SAMPLING.seed(rnn.params, SAMPLING.initial_state(rnn.params), keys[1])
    chex.assert_trees_all_close(jax.tree_util.tree_map(lambda a: a[1], with_key),
                                rnnjax.scan(SAMPLING, rnn.params, XS, state), atol=1e-6)
    mode = rnnjax.scan(SAMPLING, rnn.params, XS)[1]
    chex.assert_trees_all_close(rnn(xs, deterministic=True)[0], mode, atol=1e-6)
    rnn.eval()
    assert rnn.deterministic
    chex.assert_trees_all_close(rnn(xs)[1], mode, atol=1e-6)


def test_nnx_sampling_needs_a_key_source_and_a_sampling_cell():
    rnn = rnnx.RNN(SAMPLING, D, rngs=nnx.Rngs(params=0, sample=1))
    rnn.rngs = None
    with pytest.raises(ValueError, match="samples: build the module with rngs, pass key=, or deterministic=True"):
        rnn(XS[None])
    with pytest.raises(ValueError, match="draws no samples"):
        rnnx.RNN(cells.lstm(H), D, rngs=nnx.Rngs(0))(XS[None], key=KEY)
    step = rnnx.Cell(SAMPLING, D, rngs=nnx.Rngs(0))
    state = step.initial_state((3,), key=KEY)
    state, _ = step(state, jnp.stack([XS[0]] * 3))
    assert step.log_prob(state).shape == (3,)


LIBRARY = ["rnnjax", "rnnjax.builders", "rnnjax.registry", "rnnjax.legacy", "rnnjax.nnx", "rnnjax.models",
           *[m.name for m in pkgutil.iter_modules(rnnjax.cells.__path__, "rnnjax.cells.")],
           *[m.name for m in pkgutil.iter_modules(rnnjax.memory.__path__, "rnnjax.memory.")], "rnnjax.cells",
           "rnnjax.memory"]


@pytest.mark.parametrize("name", LIBRARY)
def test_library_modules_declare_their_public_names(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), name
    for public in module.__all__:
        assert hasattr(module, public), (name, public)
    assert module.__doc__, name


def test_help_finds_each_builders_own_documentation():
    for build in [*(e.build for e in cells.CELLS.entries()), *(e.build for e in memory.MEMORIES.entries()),
                  memory.augment, rnnjax.layers]:
        doc = build.__doc__ or ""
        assert len(doc) > 80 and "see the module" not in doc.lower(), build.__name__
    assert not {"partial", "Registry", "Array"} & (set(dir(memory)) | set(dir(cells)) | set(dir(rnnx)))


def test_importing_rnnjax_and_running_cells_imports_no_training_or_flax():
    code = ("import sys, jax, rnnjax, rnnjax.models, rnnjax.tasks, rnnjax.theory, rnnjax.automata\n"
            "from rnnjax import cells, memory\n"
            "cell = memory.augment(cells.lstm(4), memory.ntm(4, 2), 8)\n"
            "print(rnnjax.scan(cell, cell.init(jax.random.key(0), 3), jax.numpy.ones((5, 3)))[1].shape)\n"
            "print(sorted(m for m in ('flax', 'optax', 'orbax', 'matplotlib', 'tensorboardX', 'tyro', 'tqdm') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["(5, 6)", "[]"], done.stdout
