"""Bad input is refused at the public boundary with a message naming the argument,
what was expected and what came."""
import numpy as np
import pytest

import minirnn
from minirnn import GRU, LSTM, RNN, cross_entropy, nll_loss
from minirnn.models import CharLoopModel


@pytest.fixture
def rnn():
    return RNN(10, 4, num_layers=2)


def test_x_of_the_wrong_size(rnn):
    with pytest.raises(ValueError, match=r"x must be \(T, B, 10\) float array, got \(5, 3, 9\) float32"):
        rnn(np.zeros((5, 3, 9), np.float32))


def test_x_of_neither_rank_names_both_a_batch_and_one_sequence(rnn):
    with pytest.raises(ValueError, match=r"x must be \(T, B, 10\) or \(T, 10\) float array, got \(10,\) float64"):
        rnn(np.zeros(10))


def test_unbatched_x_of_the_wrong_size(rnn):
    with pytest.raises(ValueError, match=r"x must be \(T, 10\) float array, got \(5, 9\) float64"):
        rnn(np.zeros((5, 9)))


def test_unbatched_x_needs_an_unbatched_h0(rnn):
    with pytest.raises(ValueError, match=r"h0 must be \(2, 4\) float array, got \(2, 1, 4\) float32"):
        rnn(np.zeros((5, 10), np.float32), np.zeros((2, 1, 4), np.float32))


def test_lengths_need_a_batch(rnn):
    with pytest.raises(ValueError, match=r"lengths is for a batch of sequences; an unbatched x \(T, I\)"):
        rnn(np.zeros((5, 10), np.float32), lengths=np.array([3]))


def test_a_step_refuses_a_sequence():
    with pytest.raises(ValueError, match=r"x must be \(B, 3\) or \(3,\) float array, got \(5, 2, 3\) float64"):
        minirnn.GRUCell(3, 4)(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"h_prev must be \(4,\) float array, got \(1, 4\) float32"):
        minirnn.GRUCell(3, 4)(np.zeros(3, np.float32), np.zeros((1, 4), np.float32))


def test_integer_x(rnn):
    with pytest.raises(TypeError, match=r"x must be \(T, B, 10\) float array, got \(5, 3, 10\) int64"):
        rnn(np.zeros((5, 3, 10), np.int64))


def test_x_that_is_not_an_array(rnn):
    with pytest.raises(TypeError, match="x must be .* got list"):
        rnn([[[0.0] * 10]])


def test_batch_first_names_its_layout():
    with pytest.raises(ValueError, match=r"x must be \(B, T, 10\)"):
        RNN(10, 4, batch_first=True)(np.zeros((2, 3, 4)))


def test_h0_of_the_wrong_shape(rnn):
    with pytest.raises(ValueError, match=r"h0 must be \(2, 3, 4\) float array, got \(1, 3, 4\) float32"):
        rnn(np.zeros((5, 3, 10), np.float32), np.zeros((1, 3, 4), np.float32))


def test_lstm_state_must_be_a_pair():
    with pytest.raises(TypeError, match=r"\(h0, c0\) must be a pair"):
        LSTM(2, 3)(np.zeros((1, 1, 2), np.float32), np.zeros((1, 1, 3), np.float32))


def test_lstm_c0_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"c0 must be \(1, 1, 3\) float array"):
        LSTM(2, 3)(np.zeros((1, 1, 2), np.float32), (None, np.zeros((1, 2, 3), np.float32)))


def test_d_output_of_the_wrong_shape(rnn):
    rnn(np.zeros((5, 3, 10), np.float32))
    with pytest.raises(ValueError, match=r"d_output must be \(5, 3, 4\) float array, got \(5, 3, 5\)"):
        rnn.backward(np.zeros((5, 3, 5), np.float32))


@pytest.mark.parametrize("lengths, message", [
    ([0, 2, 3], "got a length of 0"),
    ([6, 2, 3], "got a length of 6"),
    ([2, 3], r"got \(2,\) int64"),
    ([2.0, 3.0, 1.0], r"got \(3,\) float64"),
])
def test_bad_lengths(lengths, message):
    with pytest.raises(ValueError, match=r"lengths must be B=3 integers in \[1, T=5\], " + message):
        GRU(2, 3)(np.zeros((5, 3, 2), np.float32), lengths=np.array(lengths))


@pytest.mark.parametrize("lengths", [[], np.array([], np.int64)], ids=["list", "array"])
def test_lengths_of_an_empty_batch_are_refused_by_name(lengths):
    with pytest.raises(ValueError, match="lengths needs a batch of at least one sequence, got x with B=0"):
        GRU(2, 3)(np.zeros((5, 0, 2), np.float32), lengths=lengths)


def test_an_empty_batch_without_lengths_runs_as_in_torch():
    output, h_n = GRU(2, 3)(np.zeros((5, 0, 2), np.float32))
    assert output.shape == (5, 0, 3) and h_n.shape == (1, 0, 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(hidden_size=0), "hidden_size must be a positive integer, got 0"),
    (dict(num_layers=1.5), "num_layers must be a positive integer, got 1.5"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\), got 1.0"),
    (dict(nonlinearity="sigmoid"), r"nonlinearity must be one of \('tanh', 'relu'\), got 'sigmoid'"),
    (dict(dtype="float16"), r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(seed="a"), "seed must be an integer >= 0, got 'a'"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RNN(**{"input_size": 3, "hidden_size": 4, **kwargs})


@pytest.mark.parametrize("make", [
    lambda: RNN(4, 3, dtype=None), lambda: LSTM(4, 3, dtype=None), lambda: GRU(4, 3, dtype=None),
    lambda: minirnn.RNNCell(4, 3, dtype=None), lambda: minirnn.LSTMCell(4, 3, dtype=None),
    lambda: minirnn.GRUCell(4, 3, dtype=None), lambda: minirnn.Linear(4, 3, dtype=None),
    lambda: minirnn.Embedding(4, 3, dtype=None), lambda: CharLoopModel(4, 3, 2, dtype=None),
])
def test_dtype_none_is_the_default_float32_as_in_torch(make):
    model = make()
    assert model.dtype == np.float32 and all(p.dtype == np.float32 for p in model.params.values())


def test_astype_none_is_refused_rather_than_read_as_float64():
    with pytest.raises(ValueError, match=r"dtype must be one of \('float32', 'float64'\), got None"):
        RNN(4, 3).astype(None)


@pytest.mark.parametrize("make, sizes", [
    (lambda: RNN(10**6, 10**6), r"RNN\(input_size=1000000, hidden_size=1000000, .*\): a parameter of shape "
                                r"\(1000000, 1000000\) float32 takes 3.6 TiB"),
    (lambda: GRU(10**10, 10**10), r"GRU\(input_size=10000000000, hidden_size=10000000000, .*\): a parameter"),
    (lambda: minirnn.Embedding(10**7, 10**7), r"Embedding\(num_embeddings=10000000, embedding_dim=10000000, "),
])
def test_sizes_beyond_memory_are_a_memory_error_naming_them(make, sizes):
    with pytest.raises(MemoryError, match=sizes + ".*more than this machine's memory"):
        make()


def test_proj_size_is_not_supported_and_says_so():
    with pytest.raises(ValueError, match="proj_size is not supported"):
        LSTM(3, 4, proj_size=2)


def test_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"cs must hold ids in \[0, 5\), got 5"):
        CharLoopModel(5, 2, 3)(np.array([[1], [5]]))


def test_negative_ids():
    with pytest.raises(ValueError, match=r"cs must hold ids in \[0, 5\), got -1"):
        CharLoopModel(5, 2, 3)(np.array([[1], [-1]]))


def test_float_ids():
    with pytest.raises(TypeError, match=r"cs must be \(T, B\) integer array, got \(2, 1\) float64"):
        CharLoopModel(5, 2, 3)(np.zeros((2, 1)))


def test_targets_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"target must be \(4,\) integer array, got \(3,\) int64"):
        nll_loss(np.zeros((4, 6)), np.zeros(3, np.int64))


def test_targets_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"target must hold ids in \[0, 6\), got 6"):
        cross_entropy(np.zeros((2, 4, 6)), np.full((2, 4), 6))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(mask=[1, 0]), TypeError, r"mask must be a bool or number array of the target's shape \(2,\), got list"),
    (dict(mask=np.array(["a", "b"])), TypeError, r"mask must be a bool or number array .* got \(2,\) <U1"),
    (dict(mask=np.ones(3, bool)), ValueError, r"mask must be a bool or number array .* got \(3,\) bool"),
    (dict(ignore_index="x"), TypeError, "ignore_index must be an integer or None, got 'x'"),
    (dict(ignore_index=1.5), TypeError, "ignore_index must be an integer or None, got 1.5"),
])
def test_a_bad_mask_or_ignore_index_is_refused_by_name(kwargs, error, message):
    for loss in (nll_loss, cross_entropy):
        with pytest.raises(error, match=message):
            loss(np.zeros((2, 3)), np.array([0, 1]), **kwargs)


def test_logits_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"logits must be \(B, V\) or \(T, B, V\) float array, got \(6,\)"):
        cross_entropy(np.zeros(6), np.zeros((), np.int64))


def test_load_state_dict_names_missing_and_unexpected_keys():
    with pytest.raises(ValueError, match=r"missing \['bias_hh_l0'\], unexpected \['bias_hh_l9'\]"):
        state = RNN(2, 3).state_dict()
        state["bias_hh_l9"] = state.pop("bias_hh_l0")
        RNN(2, 3).load_state_dict(state)


def test_load_state_dict_checks_shapes():
    state = RNN(2, 3).state_dict()
    state["weight_hh_l0"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"state_dict\['weight_hh_l0'\] must have shape \(3, 3\), got \(3, 4\)"):
        RNN(2, 3).load_state_dict(state)


def test_unknown_backend():
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'cupy'\), got 'jax'"):
        minirnn.use_backend("jax")


@pytest.mark.skipif(minirnn.gpu_available(), reason="a GPU is present")
def test_cupy_without_cupy_or_gpu_says_which():
    with pytest.raises(RuntimeError, match="backend 'cupy' needs (CuPy, which is not installed|a GPU)"):
        minirnn.use_backend("cupy")
