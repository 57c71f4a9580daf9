"""One library's side of one benchmark row, run in a process of its own.

``python -m minirnn.tools.bench.worker SPEC`` reads a JSON spec, builds the row's model in
minirnn or in torch (torch with minirnn's weights copied in), makes one untimed call,
times ``repeats`` more and prints the seconds as JSON. A process of its own, because
two libraries in one process disturb each other: torch's OpenMP threads keep spinning
after each call and slow whatever runs next (torch's RNN took 2.7x its own time
interleaved with minirnn in one process). The minirnn side also reports its peak
memory and the time of the row's per-step recurrent products alone, each multiplied
as the time loop multiplies them; ``{"task": "info"}`` reports the BLAS.
"""
from __future__ import annotations

import json
import sys
import time
import tracemalloc

import numpy

from minirnn.cell_kinds import default_kind
from minirnn.core import backend
from minirnn.models import build_model
from minirnn.ops import cross_entropy
from minirnn.optim import Adam, clip_grad_norm


def main(argv) -> int:
    spec = json.loads(argv[0])
    if spec["task"] == "info":
        result = blas_info()
    elif spec["task"] == "matmul":
        result = dict(flops_per_s=matmul_rate(backend.namespace(spec["backend"])))
    else:
        result = time_row(spec)
    print(json.dumps(result))
    return 0


# -- what the benchmark reports about the machine -------------------------------------------------
def blas_info() -> dict:
    """NumPy's BLAS: its name, version and the kernel it runs (from threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return dict(blas=f"{blas['name']} {blas['version']}",
                    kernel="kernel unknown (pip install threadpoolctl, or minirnn[bench], to see it)")
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not pools:
        return dict(blas="no BLAS found by threadpoolctl", kernel="kernel unknown")
    pool = pools[0]
    return dict(blas=f"{pool['internal_api']} {pool['version']}",
                kernel=f"{pool.get('architecture') or 'unknown'} kernels, {pool.get('threading_layer', '?')} "
                       f"threads, {pool['num_threads']} of them")


def matmul_rate(xp, n: int = 2048, repeats: int = 10) -> float:
    """This machine's float32 matmul rate in FLOP/s: the best of a few n x n products."""
    a = xp.asarray(numpy.random.default_rng(0).standard_normal((n, n), dtype=numpy.float32))
    best = min(_timed(lambda: a @ a, xp) for _ in range(repeats + 1))
    return 2 * n ** 3 / best


def _timed(fn, xp) -> float:
    """Seconds one call of fn takes, waiting for the GPU to finish on CuPy."""
    sync = (lambda: None) if xp is numpy else xp.cuda.get_current_stream().synchronize
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


# -- one row -------------------------------------------------------------------------------------------
def row_inputs(spec: dict) -> dict:
    """The row's inputs, drawn on the host from seed 0 so that both libraries see the same numbers."""
    T, B, I, H, V = (spec[k] for k in ("T", "B", "I", "H", "V"))
    host = numpy.random.default_rng(0)
    return dict(x=host.standard_normal((T, B, I), dtype=numpy.float32),                    # fwd+bwd
                d_out=host.standard_normal((T, B, H), dtype=numpy.float32),
                ids=host.integers(0, V, size=(T, B)), target=host.integers(0, V, size=(T, B)))  # train


def minirnn_model(spec: dict):
    """The row's minirnn model, seeded: torch's side copies its weights. spec["cell"]: the layer's name,
    "rnn", "lstm" or "gru" (minirnn.cell_kinds.LAYERS)."""
    I, H, V = spec["I"], spec["H"], spec["V"]
    if spec["mode"] == "fwd+bwd":
        return build_model(spec["cell"], input_size=I, hidden_size=H, seed=0).to(spec["backend"])
    return build_model("charrnn", vocab_size=V, emb=I, hidden=H, cell=spec["cell"], seed=0).to(spec["backend"])


def time_row(spec: dict) -> dict:
    xp = backend.namespace(spec["backend"])
    inputs = row_inputs(spec)
    model = minirnn_model(spec)
    if spec["library"] == "torch":
        call = _torch_call(spec, model, inputs)
    else:
        call = _minirnn_call(spec, model, {k: xp.asarray(v) for k, v in inputs.items()})
    call()                                     # warm-up: first-touch allocations, thread start-up
    seconds = [_timed(call, xp) for _ in range(spec["repeats"])]
    result = dict(seconds=seconds)
    if spec["library"] == "minirnn":
        (model if spec["mode"] == "fwd+bwd" else model.rnn).release_buffers()   # so that the peak counts them
        result["peak_bytes"] = _peak_memory(call, xp)
        result["step_product_seconds"] = step_product_seconds(spec, xp)
    return result


def _minirnn_call(spec: dict, model, inputs: dict):
    if spec["mode"] == "fwd+bwd":
        def call():
            model.forward(inputs["x"])
            model.backward(inputs["d_out"])
        return call
    optimizer = Adam(model, lr=1e-3)

    def call():
        model.zero_grad()
        logits, _ = model.forward(inputs["ids"])
        _, d_logits = cross_entropy(logits, inputs["target"])
        model.backward(d_logits)
        if spec["clip"]:
            clip_grad_norm(model.grads, spec["clip"])
        optimizer.step()
    return call


def step_product_seconds(spec: dict, xp, repeats: int = 3) -> float:
    """Seconds of the row's 2 T per-step products alone, as the time loop makes them.

    Forward h_{t-1} (B, H) times the contiguous W_hh^T (H, G*H), backward d_hh (B, G*H)
    times W_hh (G*H, H), T of each, on fresh operands; the best of ``repeats``. This is
    what no arrangement of the elementwise math can save: the floor of the row's time
    loop at the BLAS's rate for these shapes.
    """
    T, B, H, G = spec["T"], spec["B"], spec["H"], default_kind(spec["cell"]).n_gates
    rng = numpy.random.default_rng(1)
    weight_hh = xp.asarray(rng.standard_normal((G * H, H), dtype=numpy.float32))
    weight_hh_t = xp.ascontiguousarray(weight_hh.T)
    h = xp.asarray(rng.standard_normal((T, B, H), dtype=numpy.float32))
    d_hh = xp.asarray(rng.standard_normal((T, B, G * H), dtype=numpy.float32))
    hh, dh = xp.empty((B, G * H), numpy.float32), xp.empty((B, H), numpy.float32)

    def products():
        for t in range(T):
            xp.matmul(h[t], weight_hh_t, out=hh)
        for t in reversed(range(T)):
            xp.matmul(d_hh[t], weight_hh, out=dh)
    products()
    return min(_timed(products, xp) for _ in range(repeats))


def _peak_memory(call, xp) -> float:
    """Bytes at the peak of one call: traced by tracemalloc on NumPy, the memory pool's size on CuPy."""
    if xp is not numpy:
        pool = xp.get_default_memory_pool()
        pool.free_all_blocks()
        call()
        return pool.total_bytes()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- torch, the referee ---------------------------------------------------------------------------
def _torch_call(spec: dict, model, inputs: dict):
    """torch's version of the same call (fwd+bwd, or a training step), with the minirnn model's weights copied in."""
    import torch
    torch.set_num_threads(spec["threads"])
    device = "cpu" if spec["backend"] == "numpy" else "cuda"
    as_torch = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    T, B, I, H, V = (spec[k] for k in ("T", "B", "I", "H", "V"))
    rnn = getattr(torch.nn, spec["cell"].upper())(I, H)
    if spec["mode"] == "fwd+bwd":
        layer = rnn.to(device)
        copy_weights(torch, model, layer)
        x, d_out = as_torch(inputs["x"]).requires_grad_(), as_torch(inputs["d_out"])

        def call():
            out, _ = layer(x)
            out.backward(d_out)
    else:
        net = torch.nn.Module()   # CharRNN in torch: the same attribute names, so the same parameter names
        net.embedding, net.rnn, net.head = torch.nn.Embedding(V, I), rnn, torch.nn.Linear(H, V)
        net = net.to(device)
        copy_weights(torch, model, net)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        ids, target = as_torch(inputs["ids"]), as_torch(inputs["target"]).reshape(T * B)

        def call():
            optimizer.zero_grad()
            out, _ = net.rnn(net.embedding(ids))
            loss = torch.nn.functional.cross_entropy(net.head(out).reshape(T * B, V), target)
            loss.backward()
            if spec["clip"]:
                torch.nn.utils.clip_grad_norm_(net.parameters(), spec["clip"])
            optimizer.step()
    if device == "cpu":
        return call

    def synchronized_call():       # the timer waits for CuPy's stream only
        call()
        torch.cuda.synchronize()
    return synchronized_call


def copy_weights(torch, model, module) -> None:
    """Copy a minirnn model's parameters into the torch module with the same parameter names."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(backend.to_host(model.params[name])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
