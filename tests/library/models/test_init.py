"""minirnn.models.MODELS and build_model: every model by name, built from its constructor's arguments."""
import numpy as np
import pytest

from minirnn import checkpoint
from minirnn.models import MODELS, build_model

# The smallest arguments of each model's constructor.
SIZES = {"charloop": dict(vocab_size=5, n_fac=3, n_hidden=4), "charrnn": dict(vocab_size=5, emb=3, hidden=4)}


def sizes(name):
    return SIZES.get(name, dict(input_size=3, hidden_size=4))


@pytest.mark.parametrize("name", MODELS)
def test_each_model_is_built_by_its_name_and_rebuilt_from_its_config(name):
    model = build_model(name, **sizes(name), seed=0)
    assert type(model) is MODELS[name]
    again = build_model(name, **model.config(), seed=0)
    assert again.config() == model.config()
    for key, value in model.params.items():
        np.testing.assert_array_equal(again.params[key], value)


def test_an_unknown_model_is_refused_with_the_names_there_are():
    with pytest.raises(ValueError, match=r"model must be one of \('rnn', 'lstm', 'gru', 'rnncell', .*'charrnn'\), "
                                         r"got 'lstn'"):
        build_model("lstn", input_size=3, hidden_size=4)


@pytest.mark.parametrize("name", MODELS)
def test_each_model_goes_through_a_checkpoint(name, tmp_path):
    model = build_model(name, **sizes(name), seed=0)
    checkpoint.save(tmp_path / "model.npz", model)
    loaded = checkpoint.load(tmp_path / "model.npz")
    assert loaded.model_config == model.config()
    rebuilt = loaded.build_model()
    assert type(rebuilt) is type(model)
    for key, value in model.params.items():
        np.testing.assert_array_equal(rebuilt.params[key], value)
