"""Predictions of every subject of a dataset for many parameter sets in one engine call: the
records planned once per number of copies, each evaluation only writes thetas and etas into
the parameter matrix and runs the engine (parallel over subjects), with the forward
sensitivities to the etas when asked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._prediction import ATOL, RTOL

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel
    from ._popdata import PopulationData

__all__ = ["BatchPredictor"]


class BatchPredictor:
    """Predictions at the observations of all subjects, for ``k`` copies of the dataset at
    once (copy ``c`` with its own thetas, etas of shape ``(k, n_subjects, n_eta)``).

    Parameters
    ----------
    cm : CompiledModel
    pop : PopulationData
    etas : sequence of str
        The etas that vary by subject (the others are 0).
    sens : CompiledModel, optional
        The model with sensitivities to ``etas`` (for :meth:`with_sensitivities`).
    thetas : sequence of str
        The parameters whose values are set per copy.
    """

    def __init__(self, cm: CompiledModel, pop: PopulationData, etas: Sequence[str],
                 sens: CompiledModel | None, thetas: Sequence[str]) -> None:
        self.cm, self.pop, self.sens = cm, pop, sens
        self.etas = list(etas)
        self.thetas = list(thetas)
        self._plans: dict[tuple[str, int], Any] = {}
        self.n_simulations = 0
        self.n_subject_solves = 0

    def _plan(self, cm: CompiledModel, k: int) -> Any:
        from .._plan import plan

        key = (cm.model.hash, k)
        if key not in self._plans:
            n_all = self.pop.table.n_subjects
            params = {name: np.full(n_all * k, v) for name, v in self.pop.fixed.items()}
            params.update({e: np.zeros(n_all * k) for e in self.etas})
            self._plans[key] = plan(cm, self.pop.table.repeat(k), None, params=params,
                                    times=None, outputs=None, n=None, seed=None,
                                    variability=(), uncertainty=None, occasions=None)
        return self._plans[key]

    def _run(self, cm: CompiledModel, thetas: Mapping[str, np.ndarray], etas: np.ndarray,
             outputs: list[str]) -> dict[str, np.ndarray]:
        from .. import engine

        k = etas.shape[0]
        plan = self._plan(cm, k)
        n_all = self.pop.table.n_subjects
        q = plan.q.copy()
        for name, values in thetas.items():
            q[:, cm.layout.index(name)] = np.repeat(np.asarray(values, dtype=float), n_all)
        full = np.zeros((k, n_all, len(self.etas)))
        full[:, self.pop.rows, :] = etas
        full = full.reshape(k * n_all, len(self.etas))
        for j, e in enumerate(self.etas):
            q[:, cm.layout.index(e)] = full[:, j]
        out, _, _ = engine.run(cm, plan.prep, q, plan.cov_slot, plan.cov_nocb,
                               ids=plan.ids_run, rtol=RTOL, atol=ATOL)
        self.n_simulations += 1
        self.n_subject_solves += k * n_all
        n_obs = self.pop.n_obs
        return {o: out[:, cm.output_names.index(o)].reshape(k, n_obs) for o in outputs}

    def predict(self, thetas: Mapping[str, np.ndarray], etas: np.ndarray) -> np.ndarray:
        """Predictions ``(k, n_obs)``."""
        obs = self.pop.obs
        out = self._run(self.cm, thetas, etas, list(obs.outputs))
        f = np.empty((etas.shape[0], self.pop.n_obs))
        for i, o in enumerate(obs.outputs):
            sel = obs.output == i
            f[:, sel] = out[o][:, sel]
        return f

    def with_sensitivities(self, thetas: Mapping[str, np.ndarray], etas: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Predictions ``(k, n_obs)`` and their derivatives by the etas ``(k, n_obs, n_eta)``."""
        from ..model import sensitivity_name

        assert self.sens is not None
        obs = self.pop.obs
        wanted = [*obs.outputs, *(sensitivity_name(o, e) for o in obs.outputs
                                  for e in self.etas)]
        out = self._run(self.sens, thetas, etas, wanted)
        k = etas.shape[0]
        f = np.empty((k, self.pop.n_obs))
        jac = np.empty((k, self.pop.n_obs, len(self.etas)))
        for i, o in enumerate(obs.outputs):
            sel = obs.output == i
            f[:, sel] = out[o][:, sel]
            for j, e in enumerate(self.etas):
                jac[:, sel, j] = out[sensitivity_name(o, e)][:, sel]
        return f, jac
