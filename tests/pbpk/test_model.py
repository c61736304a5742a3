"""The generated PBPK model (models/pbpk_theophylline.toml through pkpd.pbpk.load_pbpk_text):
mass balance, an independent scipy solve of the same system, the well-stirred clearance at
steady state, and the package's patients, virtual populations and individual fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import pkpd
from pkpd.errors import ModelError
from pkpd.pbpk import load_pbpk_text, partition_coefficients, physiology

FILE = Path(__file__).resolve().parents[2] / "models" / "pbpk_theophylline.toml"
DRUG = {"type": "acid", "logp": -0.02, "pka": 8.81, "fu": 0.6, "bp": 1.0}
CL_HEPATIC, CL_RENAL, KA = 2.5, 0.28, 1.5
STATES = ("lumen", "gut", "spleen", "liver", "kidney", "brain", "heart", "muscle", "adipose",
          "skin", "bone", "rest", "lung", "arterial", "venous", "unabsorbed", "metabolised",
          "excreted")


@pytest.fixture(scope="module")
def model() -> pkpd.Model:
    return load_pbpk_text(FILE.read_text(), FILE.name)


@pytest.fixture(scope="module")
def compiled(model):
    return pkpd.compile_model(model)


def test_library_loads_the_description(model) -> None:
    """pkpd.load_model dispatches a file with a [drug] table to load_pbpk_text."""
    by_name = pkpd.load_model("pbpk_theophylline")
    assert by_name.name == model.name and by_name.metadata == model.metadata
    assert [p.value for p in by_name.parameters] == [p.value for p in model.parameters]
    assert "pbpk_theophylline" in pkpd.list_models(tag="pbpk")


def test_metadata_and_structure(model) -> None:
    assert model.name == "pbpk_theophylline"
    assert tuple(s.name for s in model.states) == STATES
    assert {c.name for c in model.covariates} == {"SEX", "AGE", "HT", "WT"}
    assert model.routes == {"IV": "venous", "PO": "lumen"}
    assert "ICRP 89" in model.metadata["physiology"]
    assert "Rodgers & Rowland" in model.metadata["partition"]
    kp = partition_coefficients(DRUG)
    values = {p.name: p.value for p in model.parameters}
    for tissue, k in kp.items():
        assert values[f"KP_{tissue.upper()}"] == pytest.approx(k, rel=1e-12)
    assert model.metadata["tags"] == "pbpk; drug; pk"


def clint_per_litre() -> float:
    """The well-stirred model solved for the unbound intrinsic clearance (per L of liver) that
    gives CL_HEPATIC in the reference man (35 y, 176 cm, 73 kg), BP = 1."""
    ref = physiology(1, 35, 176, 73)
    q, fu = ref["Q_LIVER"][0], DRUG["fu"]
    # CL = q fu CLint / (q + fu CLint)  <=>  CLint = q CL / (fu (q - CL))
    return q * CL_HEPATIC / (fu * (q - CL_HEPATIC)) / ref["V_LIVER"][0]


def scipy_solution(patient, dose: float, route: str, times: np.ndarray) -> np.ndarray:
    """The same system written here from physiology() and partition_coefficients(), solved
    with Radau at rtol 1e-10: venous plasma concentration (mg/L) at ``times``."""
    ph = {k: v for k, (v, _) in physiology(*patient).items()}
    kp = partition_coefficients(DRUG)
    fu, bp = DRUG["fu"], DRUG["bp"]
    clint = clint_per_litre() * ph["V_LIVER"]
    order = ["gut", "spleen", "liver", "kidney", "brain", "heart", "muscle", "adipose", "skin",
             "bone", "rest", "lung"]
    idx = {n: i for i, n in enumerate(["lumen", *order, "arterial", "venous"])}

    def rhs(_t, a):
        c_out = {t: bp * a[idx[t]] / (ph[f"V_{t.upper()}"] * kp[t]) for t in order}
        c_art, c_ven = a[idx["arterial"]] / ph["V_ART"], a[idx["venous"]] / ph["V_VEN"]
        d = np.zeros_like(a)
        d[idx["lumen"]] = -KA * a[idx["lumen"]]
        for t in ("spleen", "kidney", "brain", "heart", "muscle", "adipose", "skin", "bone",
                  "rest", "gut"):
            d[idx[t]] = ph[f"Q_{t.upper()}"] * (c_art - c_out[t])
        d[idx["gut"]] += KA * a[idx["lumen"]]
        d[idx["kidney"]] -= CL_RENAL * c_out["kidney"] / bp
        d[idx["liver"]] = (ph["Q_HA"] * c_art + ph["Q_GUT"] * c_out["gut"]
                           + ph["Q_SPLEEN"] * c_out["spleen"] - ph["Q_LIVER"] * c_out["liver"]
                           - clint * fu * c_out["liver"] / bp)
        d[idx["lung"]] = ph["CO"] * (c_ven - c_out["lung"])
        d[idx["arterial"]] = ph["CO"] * (c_out["lung"] - c_art)
        back = ph["Q_LIVER"] * c_out["liver"] + sum(
            ph[f"Q_{t.upper()}"] * c_out[t] for t in ("kidney", "brain", "heart", "muscle",
                                                       "adipose", "skin", "bone", "rest"))
        d[idx["venous"]] = back - ph["CO"] * c_ven
        return d

    a0 = np.zeros(len(idx))
    a0[idx["lumen" if route == "PO" else "venous"]] = dose
    sol = solve_ivp(rhs, (0, times[-1]), a0, method="Radau", t_eval=times, rtol=1e-10,
                    atol=1e-12)
    assert sol.success
    return sol.y[idx["venous"]] / ph["V_VEN"] / bp


@pytest.mark.parametrize("route,patient", [("PO", (1, 35, 176, 73)),
                                           ("IV", (0, 68, 158, 92)),
                                           ("PO", (0, 24, 170, 52))])
def test_against_an_independent_scipy_solve(compiled, route, patient) -> None:
    times = np.array([0.25, 0.5, 1, 2, 4, 8, 12, 24, 36])
    ref = scipy_solution(patient, 300.0, route, times)
    sim = pkpd.simulate(compiled, f"300 mg {route}",
                        patients=dict(zip(("SEX", "AGE", "HT", "WT"),
                                          ([v] for v in patient), strict=True)),
                        times=times, rtol=1e-10, atol=1e-12)
    got = sim["CP"].values[0]
    assert np.max(np.abs(got - ref) / ref) < 1e-6


@settings(max_examples=10, deadline=None)
@given(st.floats(10, 1000), st.sampled_from(["PO", "IV"]), st.sampled_from([0, 1]),
       st.floats(20, 80), st.floats(150, 200), st.floats(45, 150))
def test_mass_balance(compiled, dose, route, sex, age, ht, wt) -> None:
    """Every state is an amount: drug in the body + lumen + unabsorbed + metabolised + excreted
    = dose at all times, and no amount is negative."""
    sim = pkpd.simulate(compiled, f"{dose} mg {route}",
                        patients={"SEX": [sex], "AGE": [age], "HT": [ht], "WT": [wt]},
                        times=[0.5, 2, 8, 24, 96], states=True, rtol=1e-10, atol=1e-12)
    total = sum(sim[s].values[0] for s in STATES)
    np.testing.assert_allclose(total, dose, rtol=1e-7)
    assert min(sim[s].values.min() for s in STATES) > -1e-9 * dose


def test_steady_state_clearance_is_the_stated_one(compiled) -> None:
    """Under a long constant infusion into the reference man, rate / Css (venous plasma) is
    the stated hepatic clearance (2.5 L/h, the well-stirred model) plus the renal clearance
    seen from the arterial plasma, CLr Q_K / (Q_K + CLr/BP) (the kidney is well-stirred too)."""
    q_k = physiology(1, 35, 176, 73)["Q_KIDNEY"][0]
    cl = CL_HEPATIC + CL_RENAL * q_k / (q_k + CL_RENAL / DRUG["bp"])
    sim = pkpd.simulate(compiled, "1000 mg IV over 500 h", times=[400.0],
                        patients={"SEX": [1], "AGE": [35], "HT": [176], "WT": [73]},
                        rtol=1e-10, atol=1e-12)
    assert 2.0 / sim["CP"].values[0, 0] == pytest.approx(cl, rel=1e-6)


def test_patients_and_virtual_population(compiled) -> None:
    """Every subject of a virtual population gets its own physiology; pkpd.Patient works."""
    pop = pkpd.Population.virtual("adult", age=(20, 80)).sample(6, seed=3)
    sim = pkpd.simulate(compiled, "300 mg PO", patients=pop, times=[1.0, 4.0, 12.0])
    cp = sim["CP"].values
    assert np.isfinite(cp).all() and (cp > 0).all()
    assert len(np.unique(np.round(cp[:, 1], 10))) == 6
    # the same numbers as giving the covariates by hand, subject 1
    first = pop.iloc[0]
    one = pkpd.simulate(compiled, "300 mg PO", times=[1.0, 4.0, 12.0],
                        patients={k: [float(first[k])] for k in ("SEX", "AGE", "HT", "WT")})
    np.testing.assert_allclose(one["CP"].values[0], cp[0], rtol=1e-12)
    patient = pkpd.Patient(WT="82 kg", HT="180 cm", AGE="45 yr", SEX="M")
    sim_p = pkpd.simulate(compiled, "300 mg PO", patients=[patient], times=[4.0])
    ref = pkpd.simulate(compiled, "300 mg PO", times=[4.0],
                        patients={"SEX": [1], "AGE": [45], "HT": [180], "WT": [82]})
    np.testing.assert_allclose(sim_p["CP"].values, ref["CP"].values, rtol=1e-12)


def test_fit_individual_recovers_clearance() -> None:
    """Levels simulated with eta_CLINT = 0.4 (no residual error) are fitted back by maximum
    likelihood to eta_CLINT = 0.4 +- 0.005. The description is rebuilt with an additive
    residual error: with an error SD that grows with the prediction the likelihood of exact
    data peaks below it (the log-SD term), which is the error model's property, not the
    PBPK model's."""
    text = FILE.read_text().replace("error = { proportional = 0.15, additive = 0.1 }",
                                    "error = { additive = 0.1 }")
    compiled = pkpd.compile_model(load_pbpk_text(text, "pbpk_theophylline_additive.toml"))
    times = np.array([1.0, 2.0, 4.0, 8.0, 12.0, 24.0])
    cov = {"SEX": [0], "AGE": [50], "HT": [165], "WT": [70]}
    truth = pkpd.simulate(compiled, "300 mg PO", patients=cov, times=times,
                          params={"eta_CLINT": [0.4], "eta_KA": [0.0]})
    levels = {"TIME": times, "DV": truth["CP"].values[0]}
    fit = pkpd.fit_individual(compiled, "300 mg PO", levels=levels,
                              patient={k: v[0] for k, v in cov.items()}, method="ml")
    assert fit.etas["eta_CLINT"] == pytest.approx(0.4, abs=0.005)
    assert fit.etas["eta_KA"] == pytest.approx(0.0, abs=0.02)


def test_invalid_descriptions() -> None:
    text = FILE.read_text()
    with pytest.raises(ModelError, match="unknown key 'logd'"):
        load_pbpk_text(text.replace("logp =", "logd ="), "bad.toml")
    with pytest.raises(ModelError, match="needs 'pka'"):
        load_pbpk_text(text.replace("pka = {", "# pka = {"), "bad.toml")
    with pytest.raises(ModelError, match="unknown section"):
        load_pbpk_text(text + "\n[odes]\nx = \"1\"\n", "bad.toml")
    with pytest.raises(ModelError, match="ka"):
        load_pbpk_text(text.replace('unit = "1/h", source = "estimate',
                                    'unit = "L", source = "estimate'), "bad.toml")


def test_intrinsic_and_filtration_clearance() -> None:
    """With clint_u given and renal = "filtration", the steady-state clearance of a woman
    (60 y, 160 cm, 70 kg) under a constant infusion is the well-stirred liver
    Q_H fu CLint / (Q_H + fu CLint) (CLint = clint_u V_liver, BP = 1) plus the filtration
    clearance fu GFR (GFR = 7.5 L/h per 1.73 m2 BSA) seen through the kidney blood flow."""
    text = FILE.read_text()
    text = text.replace('cl_hepatic = { value = 2.5, unit = "L/h",',
                        'clint_u = { value = 4.0, unit = "1/h",')
    text = "\n".join('renal = "filtration"' if line.startswith("cl_renal") else line
                     for line in text.splitlines())
    cm = pkpd.compile_model(load_pbpk_text(text, "pbpk_filtration.toml"))
    patient = (0, 60, 160, 70)
    ph = {k: v for k, (v, _) in physiology(*patient).items()}
    fu = DRUG["fu"]
    clint = 4.0 * ph["V_LIVER"]
    cl_h = ph["Q_LIVER"] * fu * clint / (ph["Q_LIVER"] + fu * clint)
    clr = fu * 7.5 * ph["BSA"] / 1.73
    cl_r = ph["Q_KIDNEY"] * clr / (ph["Q_KIDNEY"] + clr)
    sim = pkpd.simulate(cm, "1000 mg IV over 500 h", times=[400.0], rtol=1e-10, atol=1e-12,
                        patients=dict(zip(("SEX", "AGE", "HT", "WT"), ([v] for v in patient),
                                          strict=True)))
    assert 2.0 / sim["CP"].values[0, 0] == pytest.approx(cl_h + cl_r, rel=1e-6)
    with pytest.raises(ModelError, match="unknown covariate 'BMI'"):
        load_pbpk_text(FILE.read_text().replace("reference = { SEX = 1,",
                                                "reference = { BMI = 24, SEX = 1,"), "bad.toml")
