"""``pkpd models`` and ``pkpd show`` against :func:`pkpd.list_models` and ``Model.summary``."""

from __future__ import annotations

import pkpd


def test_models_lists_the_library_by_tag(cli) -> None:
    run = cli("models")
    assert run.code == 0
    assert [ln.split()[0] for ln in run.out.splitlines()] == pkpd.list_models()
    run = cli("models", "--tag", "tdm")
    assert [ln.split()[0] for ln in run.out.splitlines()] == pkpd.list_models(tag="tdm")
    assert all(ln.endswith("]") and "tdm" in ln.rsplit("[", 1)[1] for ln in run.out.splitlines())


def test_show_prints_the_model_summary(cli) -> None:
    run = cli("show", "theophylline_1cmt")
    assert run.code == 0
    assert run.out == pkpd.load_model("theophylline_1cmt").summary() + "\n"


def test_unknown_tag_and_model(cli) -> None:
    run = cli("models", "--tag", "nope")
    assert run.code == 1 and "unknown tag 'nope'" in run.err
    run = cli("show", "no_such_model")
    assert run.code == 1 and run.err.startswith("pkpd: error: unknown model 'no_such_model'")
