"""Inputs as a torch user passes them: a torch tensor at the public boundary is refused in one sentence that
says to pass .numpy() (.detach().numpy() when it requires grad), found without importing torch; an input of
another precision than the model's is refused, as torch refuses it."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minirnn
from minirnn.models import CharLoopModel, CharRNN
from minirnn.optim import SGD, clip_grad_norm


def one_sentence(error) -> str:
    message = str(error.value)
    assert "\n" not in message and message.count(": pass ") == 1, message
    return message


def float32(*shape):
    return np.zeros(shape, np.float32)


# Each public entry point with a torch tensor given where an array belongs: (name in the message, call).
def boundaries(torch):
    def tensor(*shape, dtype=torch.float32):
        return torch.zeros(*shape, dtype=dtype)

    lstm, linear, embedding = minirnn.LSTM(3, 4), minirnn.Linear(3, 2), minirnn.Embedding(5, 3)
    cell, charrnn, charloop = minirnn.GRUCell(3, 4), CharRNN(5, 3, 4), CharLoopModel(5, 3, 4)

    def after_forward(module, given, call):
        module(given)
        return call()

    return {
        "lstm x": ("x", lambda: lstm(tensor(5, 2, 3))),
        "lstm h0": ("h0", lambda: lstm(float32(5, 2, 3), (tensor(1, 2, 4), None))),
        "lstm hx not a pair": (r"\(h0, c0\)", lambda: lstm(float32(5, 2, 3), tensor(1, 2, 4))),
        "lstm lengths": ("lengths", lambda: lstm(float32(5, 2, 3), lengths=tensor(2, dtype=torch.int64))),
        "lstm d_output": ("d_output", lambda: after_forward(lstm, float32(5, 2, 3),
                                                            lambda: lstm.backward(tensor(5, 2, 4)))),
        "cell x": ("x", lambda: cell(tensor(2, 3))),
        "cell h_prev": ("h_prev", lambda: cell(float32(2, 3), tensor(2, 4))),
        "linear x": ("x", lambda: linear(tensor(4, 3))),
        "embedding ids": ("ids", lambda: embedding(tensor(4, dtype=torch.int64))),
        "charrnn ids": ("ids", lambda: charrnn(tensor(3, 2, dtype=torch.int64))),
        "charloop cs": ("cs", lambda: charloop(tensor(3, 2, dtype=torch.int64))),
        "cross_entropy logits": ("logits", lambda: minirnn.cross_entropy(tensor(2, 5), np.array([0, 1]))),
        "nll_loss target": ("target", lambda: minirnn.nll_loss(float32(2, 5), tensor(2, dtype=torch.int64))),
        "loss mask": ("mask", lambda: minirnn.cross_entropy(float32(2, 5), np.array([0, 1]), mask=tensor(2))),
        "parameter assignment": (r"Linear\.weight", lambda: setattr(linear, "weight", tensor(2, 3))),
        "optimizer": (r"SGD's params\['0'\]", lambda: SGD(torch.nn.Linear(3, 2).parameters())),
        "clip_grad_norm": (r"clip_grad_norm's params\['0'\]", lambda: clip_grad_norm([tensor(3)], 1.0)),
        "load_state_dict": (r"state_dict\['weight'\]",
                            lambda: linear.load_state_dict({k: torch.from_numpy(v) for k, v in
                                                            linear.state_dict().items()})),
        "optimizer load_state_dict": (r"optimizer state 'weight/momentum_buffer'",
                                      lambda: optimizer_state_as_tensors(torch, linear)),
    }


def optimizer_state_as_tensors(torch, linear):
    """An optimizer's saved state, its arrays turned into torch tensors, loaded back."""
    optimizer = SGD(linear, momentum=0.9)
    optimizer.step()
    arrays, meta = optimizer.state_dict()
    optimizer.load_state_dict({key: torch.from_numpy(value) for key, value in arrays.items()}, meta)


BOUNDARIES = ["lstm x", "lstm h0", "lstm hx not a pair", "lstm lengths", "lstm d_output", "cell x", "cell h_prev",
              "linear x", "embedding ids", "charrnn ids", "charloop cs", "cross_entropy logits", "nll_loss target",
              "loss mask", "parameter assignment", "optimizer", "clip_grad_norm", "load_state_dict",
              "optimizer load_state_dict"]


@pytest.mark.parametrize("where", BOUNDARIES)
def test_a_torch_tensor_is_refused_in_one_sentence_that_says_to_pass_numpy(torch, where):
    name, call = boundaries(torch)[where]
    with pytest.raises(TypeError, match=rf"^{name} is a torch tensor") as error:
        call()
    assert ".numpy()" in one_sentence(error)


def test_every_boundary_is_listed(torch):
    assert sorted(boundaries(torch)) == sorted(BOUNDARIES)


def test_a_tensor_that_requires_grad_is_told_to_detach(torch):
    x = torch.zeros(5, 2, 3, requires_grad=True)
    with pytest.raises(TypeError, match=r"^x is a torch tensor that requires grad, and minirnn computes on NumPy "
                                        r"arrays: pass x\.detach\(\)\.numpy\(\)$"):
        minirnn.LSTM(3, 4)(x)


def test_load_state_dict_names_the_key_of_a_tensor_that_requires_grad(torch):
    ours = minirnn.LSTM(3, 4, seed=0)
    before = ours.state_dict()
    theirs = torch.nn.LSTM(3, 4)
    state = {name: param for name, param in theirs.named_parameters()}          # Parameters: they require grad
    with pytest.raises(TypeError, match=r"^state_dict\['weight_ih_l0'\] is a torch tensor that requires grad, and "
                                        r"minirnn computes on NumPy arrays: pass \{name: value\.detach\(\)\.numpy\(\) "
                                        r"for name, value in state\.items\(\)\}$"):
        ours.load_state_dict(state)
    for name, value in before.items():                                          # all or nothing
        np.testing.assert_array_equal(ours.params[name], value)
    ours.load_state_dict({name: value.detach().numpy() for name, value in state.items()})


def test_a_torch_tensor_is_recognised_without_importing_torch():
    """In a process where torch cannot be imported, an object of a class torch.Tensor is still refused."""
    code = textwrap.dedent("""
        import sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ImportError("torch is not installed here")
        sys.meta_path.insert(0, Refuse())
        import numpy as np
        import minirnn
        Device = type("device", (), {"type": "cuda"})
        Tensor = type("Tensor", (), {"__module__": "torch", "requires_grad": True, "device": Device(),
                                     "shape": (5, 2, 3), "dtype": "torch.float32"})
        Parameter = type("Parameter", (Tensor,), {"__module__": "torch.nn.parameter"})
        try:
            minirnn.LSTM(3, 4)(Parameter())
        except TypeError as err:
            print(err)
        assert "torch" not in sys.modules
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("x is a torch tensor that requires grad, and minirnn computes on NumPy arrays: "
                             "pass x.detach().cpu().numpy()\n")


# -- another precision than the model's -----------------------------------------------------------------
def mismatched_calls(dtype):
    """Each module of the given dtype called with floats of the other precision, and the name it refuses."""
    other = np.float32 if dtype == "float64" else np.float64
    lstm, cell = minirnn.LSTM(3, 4, dtype=dtype), minirnn.LSTMCell(3, 4, dtype=dtype)
    linear, embedding = minirnn.Linear(3, 2, dtype=dtype), minirnn.Embedding(5, 3, dtype=dtype)
    charrnn, charloop = CharRNN(5, 3, 4, dtype=dtype), CharLoopModel(5, 3, 4, dtype=dtype)
    ids = np.zeros((3, 2), np.int64)
    own = np.dtype(dtype).type

    def backward_after(module, given, gradient):
        module(given)
        return module.backward(gradient)

    return {
        "x": lambda: lstm(np.zeros((5, 2, 3), other)),
        "h0": lambda: lstm(np.zeros((5, 2, 3), own), (np.zeros((1, 2, 4), other), None)),
        "d_output": lambda: backward_after(lstm, np.zeros((5, 2, 3), own), np.zeros((5, 2, 4), other)),
        "cell x": lambda: cell(np.zeros((2, 3), other)),
        "linear x": lambda: linear(np.zeros((4, 3), other)),
        "d_out": lambda: backward_after(embedding, ids, np.zeros((3, 2, 3), other)),
        "d_logits": lambda: backward_after(charrnn, ids, np.zeros((3, 2, 5), other)),
        "d_logp": lambda: backward_after(charloop, ids, np.zeros((2, 5), other)),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", ["x", "h0", "d_output", "cell x", "linear x", "d_out", "d_logits", "d_logp"])
def test_floats_of_another_precision_are_refused_as_torch_refuses_them(dtype, where):
    other = "float32" if dtype == "float64" else "float64"
    name = where.split()[-1]
    with pytest.raises(TypeError, match=rf"^{name} must be {dtype} like the model, got .* {other}: convert it with "
                                        rf"\.astype\('{dtype}'\), or build the model with dtype='{other}'$"):
        mismatched_calls(dtype)[where]()


def test_half_precision_is_refused_without_suggesting_a_half_precision_model():
    with pytest.raises(TypeError, match=r"^x must be float32 like the model, got \(4, 3\) float16: convert it with "
                                        r"\.astype\('float32'\)$"):
        minirnn.Linear(3, 2)(np.zeros((4, 3), np.float16))


def test_the_models_own_precision_is_used_as_given():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert minirnn.Linear(3, 2)(x).dtype == np.float32
