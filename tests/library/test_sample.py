"""Sampling: ties ranked by id, any temperature >= 0, a clear error for a broken model, characters as they come."""
import inspect
import itertools
import warnings

import numpy as np
import pytest

import minirnn
from minirnn.data import Vocab
from minirnn.models import CharLoopConcatModel, CharLoopModel, CharRNN, CharSeqRNN
from minirnn.sample import DEFAULT_TEMPERATURE, generate, next_char_distribution, sample
from minirnn.tools.cli import build_parser

TIED = np.array([0.5, 2.0, 2.0, -1.0, 2.0])       # three characters share the largest logit


def test_top_k_1_over_tied_logits_keeps_exactly_the_lowest_id():
    np.testing.assert_array_equal(next_char_distribution(TIED, 1.0, 1), [0, 1, 0, 0, 0])


def test_top_k_keeps_exactly_k_characters_when_the_kth_is_tied():
    p = next_char_distribution(TIED, 1.0, 2)
    assert np.count_nonzero(p) == 2 and p[1] == p[2] == 0.5


def test_temperature_0_is_greedy_with_ties_ranked_by_id():
    np.testing.assert_array_equal(next_char_distribution(TIED, 0.0, None), [0, 1, 0, 0, 0])


def test_a_temperature_near_0_is_greedy_without_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(next_char_distribution(np.array([1.0, 3.0, 2.0]), 1e-320, None), [0, 1, 0])


def test_tied_greedy_sampling_repeats_one_character():
    model = CharLoopModel(4, n_fac=2, n_hidden=3, seed=0)
    for name in model.params:
        model.params[name][...] = 0                    # every logit equal: four-way ties at every step
    assert sample(model, Vocab("wxyz"), "w", 12, top_k=1, seed=0) == "w" + "w" * 12


def test_nan_weights_are_named_instead_of_failing_inside_the_draw():
    model = CharRNN(3, emb=2, hidden=2, seed=0)
    model.params["head.weight"][0, 0] = np.nan
    with pytest.raises(ValueError, match="logits for the next character are NaN or Inf: its parameters are not finite"):
        sample(model, Vocab("abc"), "a", 5, seed=0)


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), -0.5])
def test_a_temperature_that_is_not_a_finite_number_above_0_is_refused(temperature):
    with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0"):
        sample(CharRNN(3, 2, 2), Vocab("abc"), "a", 5, temperature=temperature)


def test_the_library_and_the_command_sample_at_the_same_temperature():
    args = build_parser().parse_args(["sample", "x.npz"])
    assert args.temperature == DEFAULT_TEMPERATURE == inspect.signature(sample).parameters["temperature"].default


def test_generate_yields_what_sample_returns_one_character_at_a_time():
    model, vocab = CharRNN(4, emb=3, hidden=5, cell="gru", seed=2), Vocab("abcd")
    assert "ab" + "".join(generate(model, vocab, "ab", 40, seed=7)) == sample(model, vocab, "ab", 40, seed=7)


def test_generate_gives_its_first_characters_of_an_endless_sample_at_once():
    characters = generate(CharRNN(4, emb=3, hidden=5, seed=0), Vocab("abcd"), "a", 10 ** 12, seed=0)
    assert len("".join(itertools.islice(characters, 50))) == 50


def test_between_characters_the_model_keeps_its_mode_and_gradients_stay_on():
    model = CharLoopModel(3, n_fac=2, n_hidden=4, seed=0)
    characters = generate(model, Vocab("xyz"), "xy", 5, seed=0, window=2)
    next(characters)
    assert model.training and minirnn.is_grad_enabled()


def test_arguments_are_checked_before_the_first_character():
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        generate(CharRNN(3, 2, 2), Vocab("abc"), "a", 5, top_k=0)       # no next() needed


def greedy_by_hand(model, ids, length, window):
    """The most likely next character, again and again: the whole text so far through a model that hands its
    state on (its last step's prediction), else the last ``window`` characters."""
    ids = list(ids)
    with model.evaluating(), minirnn.no_grad():
        for _ in range(length):
            reads_all = isinstance(model, CharSeqRNN) and model.every_step
            out = model(np.array(ids if reads_all else ids[-window:])[:, None])
            logp = out[0] if isinstance(out, tuple) else out
            ids.append(int(np.argmax(logp[-1, 0] if reads_all else logp[0])))
    return ids


@pytest.mark.parametrize("make", [
    lambda: CharLoopConcatModel(5, n_fac=3, n_hidden=6, seed=1),
    lambda: CharSeqRNN(5, 3, 6, "lstm", num_layers=2, dropout=0.25, seed=1),
    lambda: CharSeqRNN(5, 3, 6, every_step=False, seed=1),
], ids=["concat", "every step, state carried", "last step, windows"])
def test_the_course_models_sample_their_greedy_text(make):
    model, vocab = make(), Vocab("abcde")
    expected = greedy_by_hand(model, vocab.encode("abca"), 12, window=3)
    assert sample(model, vocab, "abca", 12, temperature=0, window=3) == vocab.decode(expected)
