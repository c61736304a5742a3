"""Predictions of one subject at many eta vectors in one engine call, with forward
sensitivities, and its objective (-2 log posterior or likelihood) with the exact gradient."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SolverError
from . import _likelihood

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel
    from ..events import EventTable
    from ._data import Observations

__all__ = ["ATOL", "GRAD_STEP", "RTOL", "Objective", "sensitivity_model"]

#: Tolerances of every simulation made by a fit (tight, so that finite differences are smooth).
RTOL, ATOL = 1e-8, 1e-10
#: Step of the central finite-difference gradient (eta units).
GRAD_STEP = 1e-5

_SENSITIVITY_MODELS: dict[tuple[str, tuple[str, ...]], CompiledModel | None] = {}


def sensitivity_model(cm: CompiledModel, names: Sequence[str],
                      per_occasion: Sequence[str] = ()) -> CompiledModel | None:
    """The model with sensitivities to ``names``, compiled (memoised); None if the model's
    dose attributes depend on its states (no sensitivities: finite differences are used)."""
    from ..codegen import compile_model
    from ..errors import ModelError
    from ..model import with_sensitivities

    key = (cm.model.hash, (*names, "|", *per_occasion))
    if key not in _SENSITIVITY_MODELS:
        try:
            _SENSITIVITY_MODELS[key] = compile_model(with_sensitivities(
                cm.model, names, per_occasion=per_occasion))
        except ModelError:
            _SENSITIVITY_MODELS[key] = None
    return _SENSITIVITY_MODELS[key]


class Objective:
    """-2 log posterior (or likelihood) of one subject as a function of its etas, evaluated for
    many eta vectors at once: K vectors are K copies of the subject in one simulate call.

    With ``sens`` (the model with sensitivities to the estimated etas) the gradient is exact:
    the chain rule through the sensitivities of the predictions. Without, it is a central
    finite difference."""

    def __init__(self, cm: CompiledModel, table: EventTable, obs: Observations,
                 base: dict[str, float], names: list[str], precision: np.ndarray | None,
                 sens: CompiledModel | None = None, occasions: Any = None,
                 per_occasion: Sequence[str] = ()) -> None:
        self.cm, self.table, self.obs = cm, table, obs
        self.base, self.names, self.precision = base, names, precision
        self.sens = sens
        self.occasions = occasions
        # etas in q slots, then the between-occasion etas estimated occasion by occasion
        # (columns after those: occasion-major, in the order of ``per_occasion``)
        self._slots = [(j, cm.layout.index(e)) for j, e in enumerate(names)
                       if e in cm.layout.names]
        self._per_occasion = [cm.model.occasion_etas.index(e) for e in per_occasion]
        self.per_occasion_names = list(per_occasion)
        self.n_evaluations = 0
        self.n_simulations = 0
        self._tiled: dict[int, EventTable] = {}
        self._plans: dict[tuple[str, int], Any] = {}
        # per model: the engine's output column of each observation, for the predictions and
        # for each estimated eta's sensitivities (looked up once, not at every evaluation)
        self._columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._last_hessian: tuple[bytes, bytes, np.ndarray] | None = None

    def n_occasions(self) -> int:
        """Occasions of the subject's records (1 without between-occasion etas)."""
        occ = self._plan(self.cm, 1).occ_args.get("occasion")
        return 1 if occ is None else int(occ.max()) + 1

    def _tile(self, k: int) -> EventTable:
        tab = self._tiled.get(k)
        if tab is None:
            tab = self._tiled[k] = self.table.repeat(k)
        return tab

    def _plan(self, cm: CompiledModel, k: int) -> Any:
        """The records checked and lowered once per model and K (as :func:`pkpd.simulate`
        does): each evaluation then only writes the etas and runs the engine."""
        plan = self._plans.get((cm.model.hash, k))
        if plan is None:
            from .._plan import plan as make_plan

            params = {name: np.full(k, v) for name, v in self.base.items()}
            params.update({cm.layout.names[slot]: np.zeros(k) for _, slot in self._slots})
            plan = make_plan(cm, self._tile(k), None, params=params, times=None,
                             outputs=None, n=None, seed=None, variability=(),
                             uncertainty=None, occasions=self.occasions)
            self._plans[(cm.model.hash, k)] = plan
        return plan

    def _simulate(self, cm: CompiledModel, etas: np.ndarray, outputs: list[str],
                  gate: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each output at each observation of the tiled subject, shape (K, n_obs). With
        ``gate`` (per row, an occasion index), the occasion gates of a model with
        per-occasion sensitivities are on during that occasion only."""
        out = self._run(cm, etas, gate)
        k, n_obs = etas.shape[0], len(self.obs.dv)
        return {o: out[:, cm.output_names.index(o)].reshape(k, n_obs) for o in outputs}

    def _observed(self, cm: CompiledModel, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The prediction of each observation (K, n_obs) and, from the model with
        sensitivities, its derivatives by the estimated etas (K, n_obs, n_eta; n_eta = 0 for
        the model without), each read from its output column of one engine call."""
        key = cm.model.hash
        cols = self._columns.get(key)
        if cols is None:
            from ..model import sensitivity_name

            of = [self.obs.outputs[i] for i in self.obs.output]
            names = cm.output_names
            f_col = np.array([names.index(o) for o in of], dtype=np.intp)
            s_col = np.array([[names.index(sensitivity_name(o, e)) for e in self.names]
                              for o in of] if cm is self.sens else [[]] * len(of),
                             dtype=np.intp).reshape(len(of), -1)
            cols = self._columns[key] = (f_col, s_col)
        f_col, s_col = cols
        n_obs = len(f_col)
        out = self._run(cm, etas).reshape(etas.shape[0], n_obs, -1)
        rows = np.arange(n_obs)
        return out[:, rows, f_col], out[:, rows[:, None], s_col]

    def _run(self, cm: CompiledModel, etas: np.ndarray,
             gate: np.ndarray | None = None) -> np.ndarray:
        """The engine's outputs (K n_obs, n_out) at the observations of the tiled subject."""
        from .. import engine

        k = etas.shape[0]
        plan = self._plan(cm, k)
        q = plan.q.copy()
        for j, slot in self._slots:
            q[:, slot] = etas[:, j]
        occ_args = plan.occ_args
        if occ_args:
            # between-occasion etas: the subject's values (q) on every occasion, or the
            # estimates of each occasion
            n_occ = len(occ_args["bov_values"]) // k
            values = np.repeat(q[:, occ_args["bov_slot"]], n_occ, axis=0)
            if self._per_occasion:
                block = etas[:, len(self._slots):].reshape(k * n_occ, len(self._per_occasion))
                values[:, self._per_occasion] = block
            if gate is not None:
                from ..model import gate_name

                on = (np.arange(k * n_occ) % n_occ == np.repeat(gate, n_occ)).astype(float)
                for e in self.per_occasion_names:
                    values[:, cm.model.occasion_etas.index(gate_name(e))] = on
            occ_args = {**occ_args, "bov_values": values}
        out, _, _ = engine.run(cm, plan.prep, q, plan.cov_slot, plan.cov_nocb,
                               ids=plan.ids_run, rtol=RTOL, atol=ATOL, **occ_args)
        self.n_simulations += 1
        self.n_evaluations += k
        return out

    def predict(self, etas: np.ndarray) -> np.ndarray:
        """Predictions at the observations, shape (K, n_obs), for etas of shape (K, n_eta)."""
        return self._observed(self.cm, etas)[0]

    def predict_rows(self, etas: np.ndarray) -> np.ndarray:
        """As :meth:`predict`; with sensitivities, from that model one row at a time, on the
        plan its evaluations made (the predictions agree within the tolerances)."""
        if self.sens is None:
            return self.predict(etas)
        return np.vstack([self.predict_with_sensitivities(row[None, :])[0] for row in etas])

    def predict_with_sensitivities(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (K, n_obs) and their derivatives with respect to the estimated etas
        (K, n_obs, n_eta), from the model with sensitivities."""
        assert self.sens is not None
        if self.per_occasion_names:
            return self._per_occasion_sensitivities(etas)
        return self._observed(self.sens, etas)

    def _per_occasion_sensitivities(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`predict_with_sensitivities` with etas estimated per occasion: each row
        runs once per occasion j, the gates on during j, which gives the derivatives with
        respect to occasion j's etas (the other etas' derivatives come from any copy)."""
        from ..model import sensitivity_name

        assert self.sens is not None
        k, n_obs = etas.shape[0], len(self.obs.dv)
        n_occ = self.n_occasions()
        iiv = [self.names[j] for j, _ in self._slots]
        bov = self.per_occasion_names
        wanted = [*self.obs.outputs, *(sensitivity_name(o, e) for o in self.obs.outputs
                                       for e in (*iiv, *bov))]
        out = self._simulate(self.sens, np.repeat(etas, n_occ, axis=0), wanted,
                             gate=np.tile(np.arange(n_occ), k))
        f = np.empty((k, n_obs))
        jac = np.zeros((k, n_obs, len(self.names)))
        for i, o in enumerate(self.obs.outputs):
            sel = self.obs.output == i
            f[:, sel] = out[o].reshape(k, n_occ, n_obs)[:, 0, sel]
            for j, e in enumerate(iiv):
                jac[:, sel, j] = out[sensitivity_name(o, e)].reshape(k, n_occ, n_obs)[:, 0, sel]
            for b, e in enumerate(bov):
                s_occ = out[sensitivity_name(o, e)].reshape(k, n_occ, n_obs)
                for occ in range(n_occ):
                    jac[:, sel, len(iiv) + occ * len(bov) + b] = s_occ[:, occ, sel]
        return f, jac

    def sd(self, f: np.ndarray) -> np.ndarray:
        """Residual SD at predictions f (on the log scale for exponential error)."""
        return _likelihood.residual_sd(self.obs, f)

    def terms(self, f: np.ndarray) -> np.ndarray:
        """Contribution of each observation to the objective, shape of ``f``."""
        return _likelihood.terms(self.obs, f)

    def d_terms(self, f: np.ndarray) -> np.ndarray:
        """Derivative of each observation's term with respect to its prediction."""
        return _likelihood.d_terms(self.obs, f)

    def __call__(self, etas: np.ndarray) -> np.ndarray:
        """Objective of each row of ``etas`` (inf where a prediction is not usable)."""
        try:
            f = self.predict(etas)
        except SolverError:
            return np.full(etas.shape[0], np.inf)
        value = self.terms(f).sum(axis=1)
        if self.precision is not None:
            value = value + np.einsum("ki,ij,kj->k", etas, self.precision, etas)
        return value

    def values_and_gradients(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective (K,) and its exact gradient (K, n_eta) at each row of ``etas``, from the
        sensitivities (one simulate call); inf and zeros where not usable."""
        k, n = etas.shape
        try:
            f, jac = self.predict_with_sensitivities(etas)
        except SolverError:
            return np.full(k, np.inf), np.zeros((k, n))
        value = self.terms(f).sum(axis=1)
        grad = np.einsum("ko,kon->kn", self.d_terms(f), jac)
        if self.precision is not None:
            value = value + np.einsum("ki,ij,kj->k", etas, self.precision, etas)
            grad = grad + 2.0 * etas @ self.precision
        bad = ~(np.isfinite(value) & np.all(np.isfinite(grad), axis=1))
        value[bad] = np.inf
        grad[bad] = 0.0
        return value, grad

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective and its gradient: exact (sensitivities) or, without them, a central
        finite difference (2 n + 1 evaluations in one simulate call)."""
        n = len(x)
        if self.sens is not None:
            value, grad = self.values_and_gradients(x[None, :])
            return float(value[0]), grad[0]
        step = GRAD_STEP * np.eye(n)
        values = self(np.vstack([x, x + step, x - step]))
        if not np.isfinite(values[0]):
            return float("inf"), np.zeros(n)
        return float(values[0]), (values[1:n + 1] - values[n + 1:]) / (2 * GRAD_STEP)

    def hessian(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Hessian at x: central differences of the exact gradient (2 n evaluations) or,
        without sensitivities, second differences of the objective (one simulate call)."""
        x = np.asarray(x, dtype=float)
        h = np.broadcast_to(np.asarray(h, dtype=float), x.shape)
        key = (x.tobytes(), h.tobytes())
        last = self._last_hessian
        if last is not None and last[:2] == key:      # e.g. the Newton phase's, at its optimum
            return last[2].copy()
        n = len(x)
        if self.sens is not None:
            eye = np.eye(n) * h
            _, grads = self.values_and_gradients(np.vstack([x + eye, x - eye]))
            hess = (grads[:n] - grads[n:]) / (2 * h[:, None])
            hess = (hess + hess.T) / 2
        else:
            from ._differences import hessian_from_values, hessian_points

            hess = hessian_from_values(self(hessian_points(x, h)), h, n)
        self._last_hessian = (*key, hess)
        return hess.copy()
