"""Public testing helpers of pkpd.

``pkpd.testing.analytic``
    Closed-form reference solutions of linear 1-, 2- and 3-compartment models (bolus, infusion,
    first-order absorption, steady state), written with numpy only and independent of the
    simulation engine, so that the engine, the model library and downstream code can be checked
    against them.
``pkpd.testing.datasets``
    Small simulated NONMEM-format datasets (:func:`~pkpd.testing.datasets.simulated_oral`) for
    examples and tests.
"""

from __future__ import annotations

from . import analytic as analytic
from . import datasets as datasets

__all__ = ["analytic", "datasets"]
