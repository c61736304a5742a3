"""Public testing helpers of pkpd.

``pkpd.testing.analytic``
    Closed-form reference solutions of linear 1-, 2- and 3-compartment models (bolus, infusion,
    first-order absorption, steady state), written with numpy only and independent of the
    simulation engine, so that the engine, the model library and downstream code can be checked
    against them.
"""

from __future__ import annotations

from . import analytic as analytic

__all__ = ["analytic"]
