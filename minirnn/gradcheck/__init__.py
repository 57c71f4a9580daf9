"""Proof that every hand-written backward is right: finite differences in float64.

``check_gradients`` compares any analytic gradients with central differences
(check.py); ``cases`` builds every model of the library under every option and
runs that comparison (cases.py); ``scripts/gradcheck.py`` and ``minirnn
gradcheck`` print the result as a table. ``check_cell`` checks a learner's own
cell (cellcheck.py), and ``check_cell_file`` does it for a file's cell in a child
process with a time limit (isolated.py).
"""
from .cases import MODELS, Case, CaseResult, check_case, draw_cases, run_case
from .cellcheck import CellReport, check_cell
from .check import ATOL, EPS, RTOL, TensorReport, check_gradients
from .isolated import CellFileReport, check_cell_file

__all__ = ["check_gradients", "TensorReport", "Case", "CaseResult", "check_case", "draw_cases", "run_case", "MODELS",
           "EPS", "ATOL", "RTOL", "check_cell", "CellReport", "check_cell_file", "CellFileReport"]
