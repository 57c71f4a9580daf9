"""matplotlib for the study tools' pictures, imported only when one is drawn (it is optional: minirnn[plot])."""
from __future__ import annotations


def pyplot():
    """matplotlib.pyplot drawing into files (the Agg backend), or a RuntimeError saying how to install it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise RuntimeError("plotting needs matplotlib: pip install 'minirnn[plot]'") from err
    return plt
