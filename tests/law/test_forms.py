"""perflaw's law forms beside the paper's: token terms and links, their inverse, their fits and their files."""

import numpy as np
import pytest

from perflaw.law.coefficients import LAW_FORMS, PAPER, load_coefficients, save_coefficients
from perflaw.law.errors import InputError
from perflaw.law.fit import fit_law, law_start, predict_inputs
from perflaw.law.moe import moe_law_terms, tokens_for_mmlu
from perflaw.law.performance import effective_tokens
from tests.law.test_fit import synthetic


def test_token_terms():
    t, s = np.array([0.5, 8.0, 20.0]), 8.0
    assert effective_tokens(t, s, "clip").tolist() == [0.5, 8.0, 8.0]
    assert effective_tokens(t, s, "none").tolist() == [0.5, 8.0, 20.0]
    smooth = effective_tokens(t, s, "smooth")
    assert np.all(smooth < np.minimum(t, s) + 1e-12) and np.all(np.diff(smooth) > 0) and smooth[-1] < s
    assert effective_tokens(3.0, np.inf, "smooth") == 3.0


@pytest.mark.parametrize("form", list(LAW_FORMS))
def test_every_form_stays_in_range_and_inverts_in_tokens(form):
    x = synthetic(200, 7, moe_share=0.3)
    coef = law_start(form, x, predict_inputs(x, PAPER))
    terms = moe_law_terms(x.layers, x.hidden, x.ffn, x.tokens_t, x.total_b, x.active_b, 1.0, coef)
    assert np.all((terms.mmlu >= 25) & (terms.mmlu < 100))
    back = tokens_for_mmlu(terms.mmlu, x.layers, x.hidden, x.ffn, x.total_b, x.active_b, 1.0, coef)
    inside = (terms.mmlu > 26) & (terms.mmlu < 89) & np.isfinite(back)
    assert inside.sum() > 50
    again = moe_law_terms(x.layers, x.hidden, x.ffn, back, x.total_b, x.active_b, 1.0, coef).mmlu
    assert np.allclose(again[inside], terms.mmlu[inside], atol=1e-6)


def test_a_planted_logistic_law_is_recovered():
    x = synthetic(300, 11)
    planted = PAPER.with_values(w1=1.2, w2=0.3, w3=-0.2, w4=0.55, b=-4.0, w5=0.1, link="logistic", tokens="none")
    y = predict_inputs(x, planted)
    fit = fit_law(x, y, form="logistic-no-clip")
    assert fit.success and fit.mae < 1e-4
    assert np.allclose(fit.coefficients.vector(), planted.vector(), atol=1e-3)


def test_forms_round_trip_through_coefficient_files(tmp_path):
    coef = PAPER.with_values(tokens="smooth", link="logistic")
    save_coefficients(coef, tmp_path / "law.json")
    back = load_coefficients(tmp_path / "law.json")
    assert (back.tokens, back.link, back.form) == ("smooth", "logistic", "smooth+logistic")
    assert PAPER.form == "paper"


@pytest.mark.parametrize("kwargs, name", [(dict(tokens="cap"), "tokens"), (dict(link="probit"), "link")])
def test_unknown_form_parts_are_refused(kwargs, name):
    with pytest.raises(InputError, match=f"^{name}: "):
        PAPER.with_values(**kwargs)
    with pytest.raises(InputError, match="^form: "):
        law_start("quadratic", synthetic(10, 1), np.full(10, 50.0))


def test_without_the_clip_the_optimizer_spends_the_whole_budget():
    from perflaw.optimizer.search.candidates import evaluate
    from perflaw.optimizer.search.problem import Problem
    from perflaw.optimizer.search.space import SearchSpace
    space = SearchSpace(layers=(8, 32), heads=(8, 16), heads_step=8)
    clipped = evaluate(Problem(space, 1e24), space.lattice())
    free = evaluate(Problem(space, 1e24, coefficients=PAPER.with_values(tokens="none")), space.lattice())
    assert np.all(clipped["train_flops"] < 1e24 * (1 + 1e-9)) and np.any(clipped["train_flops"] < 0.9e24)
    assert np.allclose(free["train_flops"], 1e24)
