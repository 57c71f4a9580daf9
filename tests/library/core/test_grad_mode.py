"""no_grad() belongs to the thread that enters it: other threads keep computing gradients."""
import threading

import numpy as np

import minirnn


def in_thread(work):
    """Start ``work`` in a thread; the returned join() re-raises whatever it raised."""
    errors = []

    def guarded():
        try:
            work()
        except BaseException as err:   # noqa: BLE001 - handed to the main thread
            errors.append(err)

    thread = threading.Thread(target=guarded)
    thread.start()

    def join():
        thread.join(timeout=60)
        assert not thread.is_alive(), "the thread did not finish"
        if errors:
            raise errors[0]
    return join


def test_another_threads_backward_works_while_one_thread_evaluates_under_no_grad():
    inside, finished = threading.Event(), threading.Event()
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)

    def evaluate():
        with minirnn.no_grad():
            inside.set()
            assert finished.wait(timeout=60)
            assert not minirnn.is_grad_enabled()
            minirnn.GRU(3, 4, seed=1)(x)

    join = in_thread(evaluate)
    assert inside.wait(timeout=60)
    rnn = minirnn.GRU(3, 4, seed=0)
    try:
        assert minirnn.is_grad_enabled()
        output, _ = rnn(x)
        rnn.backward(np.ones_like(output))
    finally:
        finished.set()
        join()
    assert all(np.abs(g).sum() > 0 for g in rnn.grads.values())


def test_interleaved_no_grad_blocks_of_two_threads_leave_gradients_on():
    # A enters, B enters, A leaves, B leaves: a single process-wide flag ended this sequence switched off.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with minirnn.no_grad():
            a_in.set()
            assert b_in.wait(timeout=60)
        a_out.set()

    def second():
        assert a_in.wait(timeout=60)
        with minirnn.no_grad():
            b_in.set()
            assert a_out.wait(timeout=60)
        assert minirnn.is_grad_enabled()

    joins = [in_thread(first), in_thread(second)]
    for join in joins:
        join()
    assert minirnn.is_grad_enabled()
    seen = []
    in_thread(lambda: seen.append(minirnn.is_grad_enabled()))()
    assert seen == [True]


def test_no_grad_nests_and_restores_on_an_exception():
    try:
        with minirnn.no_grad():
            with minirnn.no_grad():
                pass
            assert not minirnn.is_grad_enabled()
            raise KeyError("out")
    except KeyError:
        pass
    assert minirnn.is_grad_enabled()
