"""minirnn.core.workspace: one set of buffers per part, thread and grad mode, reused from call to call."""
import threading

import minirnn
from minirnn.core.workspace import Workspaces


def test_a_part_gets_the_same_buffers_at_every_call():
    workspaces = Workspaces()
    assert workspaces.get("loop") is workspaces.get("loop")
    assert workspaces.get("loop") is not workspaces.get((0, 1))


def test_a_forward_under_no_grad_gets_buffers_of_its_own():
    workspaces = Workspaces()
    training = workspaces.get("loop")
    with minirnn.no_grad():
        assert workspaces.get("loop") is not training


def test_each_thread_gets_its_own_and_those_of_ended_threads_are_dropped():
    workspaces = Workspaces()
    mine, theirs = workspaces.get("loop"), []
    thread = threading.Thread(target=lambda: theirs.append(workspaces.get("loop")))
    thread.start()
    thread.join()
    assert theirs[0] is not mine and len(workspaces._by_thread) == 2
    other = threading.Thread(target=lambda: workspaces.get("loop"))
    other.start()
    other.join()
    assert thread.ident not in workspaces._by_thread or thread.ident == other.ident


def test_clear_frees_every_buffer():
    workspaces = Workspaces()
    workspaces.get("loop")["hs"] = object()
    workspaces.clear()
    assert "hs" not in workspaces.get("loop")
