"""minirnn.set_num_threads: the BLAS's thread count, through threadpoolctl when it is installed, and a clear
error saying how to install it when it is not."""
import sys

import pytest

import minirnn


@pytest.fixture
def threadpoolctl():
    """threadpoolctl, with the thread counts of this process restored after the test."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    with threadpoolctl.threadpool_limits(limits=None):   # on leaving, the limits found on entering come back
        yield threadpoolctl


def blas_threads(threadpoolctl) -> set:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}


def test_set_num_threads_limits_numpys_blas(threadpoolctl):
    assert blas_threads(threadpoolctl), "threadpoolctl finds no BLAS in this process"
    minirnn.set_num_threads(1)
    assert blas_threads(threadpoolctl) == {1}


def test_set_num_threads_without_threadpoolctl_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)     # what an absent package gives import
    with pytest.raises(RuntimeError, match=r"^setting the number of threads needs threadpoolctl, which is not "
                                           r"installed: pip install threadpoolctl \(or minirnn\[threads\]\)$"):
        minirnn.set_num_threads(1)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_a_count_that_is_not_a_positive_integer(threads):
    with pytest.raises(ValueError, match=f"threads must be a positive integer, got {threads!r}"):
        minirnn.set_num_threads(threads)


def test_the_threads_extra_installs_threadpoolctl():
    import configparser
    from pathlib import Path
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).resolve().parents[3] / "setup.cfg")
    assert setup["options.extras_require"]["threads"].split() == ["threadpoolctl>=3"]
