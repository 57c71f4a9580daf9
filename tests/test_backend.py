"""minirnn.backend: the operations whose spelling differs between NumPy and CuPy."""
import numpy

from minirnn import backend


def test_scatter_add_sums_the_rows_of_repeated_indices():
    rng = numpy.random.default_rng(0)
    for n_rows in (0, 1, 40):
        indices = rng.integers(0, 6, n_rows)
        values = rng.standard_normal((n_rows, 3))
        target = rng.standard_normal((6, 3))
        want = target.copy()
        for index, row in zip(indices, values):   # the definition, one row at a time
            want[index] += row
        backend.scatter_add(target, indices, values)
        assert numpy.allclose(target, want, rtol=0, atol=1e-13)
