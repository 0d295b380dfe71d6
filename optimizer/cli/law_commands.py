"""The law commands of the CLI (predict, fit, validate): each returns a JSON payload and its text."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from perflaw.law.coefficients import (COEFFICIENT_NAMES, LAW_FORMS, PAPER, Interval, LawCoefficients, save_coefficients,
                                      vintage_words)
from perflaw.law.errors import InputError
from perflaw.law.forecast import DEFAULT_CUTOFFS, calibrate, fixed_cutoffs, forecast_summary, forward_chaining, stated_interval
from perflaw.law.fit import (BOOTSTRAP_RESAMPLES, FitResult, bootstrap_spread, compare_moe_variants,
                             fit_law, leave_one_out, predict_inputs)
from perflaw.law.predict import predict_architecture
from perflaw.law.repetition import REPEAT_DECAY
from perflaw.law.selection import select_law
from perflaw.law.uncertainty import interval_sentence, interval_summary
from perflaw.law.zoo import law_inputs, load_zoo
from perflaw.optimizer.cli.arch_args import ArchitectureChoice
from perflaw.optimizer.report.target import check_law_file, os_error, umask_mode
from perflaw.optimizer.cli.quantities import format_quantity
from perflaw.optimizer.cli.textfmt import fmt, table


def _num(x) -> float | None:
    """JSON-safe float (NaN becomes null)."""
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


# --------------------------------------------------------------------------------------- predict
def predict_payload(choice: ArchitectureChoice, tokens_t: float, coefficients: LawCoefficients, gamma: float,
                    seq_len: int, data_vintage: str | None = None, unique_tokens_t: float | None = None) -> dict:
    arch = choice.arch
    p = predict_architecture(arch, tokens_t, coefficients=coefficients, gamma=gamma, params_b=choice.params_b,
                             active_params_b=choice.active_params_b, data_vintage=data_vintage,
                             unique_tokens_t=unique_tokens_t)
    fpt = arch.flops_per_token(seq_len)
    fpt_6n = 6.0 * p.active_params_b * 1e9
    arch_fields = {k: v for k, v in asdict(arch).items() if k != "name"}
    return {
        "mmlu": p.mmlu,
        "interval": {"low": p.interval.low, "high": p.interval.high, **interval_summary(p.calibration)},
        "sd": p.sd, "data_vintage": p.data_vintage, "data_vintage_given": data_vintage,
        "params_b": p.params_b,
        "active_params_b": p.active_params_b,
        "law_params_b": p.law_params_b,
        "params_source": "given" if choice.params_b is not None else "architecture",
        "tokens_t": p.tokens_t,
        "effective_tokens_t": p.effective_tokens_t,
        "unique_tokens_t": p.unique_tokens_t, "repeated_tokens_t": p.repeated_tokens_t,
        "discount": p.discount,
        "gamma": p.gamma,
        "law_ffn": p.law_ffn,
        "breakdown": p.breakdown.as_dict(),
        "flops_per_token": fpt,
        "train_flops": fpt * tokens_t * 1e12,
        "train_flops_6n": fpt_6n * tokens_t * 1e12,
        "seq_len": seq_len,
        "architecture": {"source": choice.source, "summary": arch.summary(), **arch_fields},
        "law": {"source": coefficients.source, "moe_variant": coefficients.moe_variant, "form": coefficients.form,
                **{k: getattr(coefficients, k) for k in COEFFICIENT_NAMES}, "vintage": coefficients.vintage or None,
                "expansion_cap": coefficients.expansion_cap},
    }


def predict_text(d: dict) -> str:
    b = d["breakdown"]
    iv = d["interval"]
    sat = d["effective_tokens_t"] < d["repeated_tokens_t"]  # the clip, not repetition
    lines = [
        f"Architecture    {d['architecture']['summary']}  [{d['architecture']['source']}]",
        f"Parameters      {d['params_b']:.3f}B total, {d['active_params_b']:.3f}B activated"
        + ("  (given; breakdown below is ours)" if d["params_source"] == "given" else ""),
        "  breakdown     " + ", ".join(f"{k} {b[k] / 1e9:.3f}B" for k in ("embedding", "output", "attention", "ffn",
                                                                             "norms")),
        f"Tokens          {d['tokens_t']:g}T; effective {d['effective_tokens_t']:.3g}T"
        + (f" (saturated: the law uses at most 1T tokens per 1B parameters, S = {d['law_params_b']:.3g}B)"
           if sat and d["law"]["form"] in ("paper", "logistic") else ""),
        *([f"Repeated data   {d['unique_tokens_t']:g}T unique, {d['tokens_t'] / d['unique_tokens_t']:.2f} epochs: "
           f"worth {d['repeated_tokens_t']:.3g}T of new data (Muennighoff et al. 2023, R* = {REPEAT_DECAY:g})"]
          if d["unique_tokens_t"] is not None else []),
        f"Discount u      {d['discount']:.4f}  (gamma {d['gamma']:g})",
        f"Predicted MMLU  {d['mmlu']:.2f}   {iv['level']:.0%} interval {iv['low']:.1f} to {iv['high']:.1f}"
        f"  (coefficient spread {d['sd']:.1f} points here; coverage {iv['coverage']:.0%} on {iv['n']} "
        f"{'forecasts' if iv['widens'] else 'zoo models'})",
        f"Training FLOPs  {d['train_flops']:.3e}  ({format_quantity(d['flops_per_token'])} per token: 6 x activated "
        f"matmul weights + attention at seq {d['seq_len']}; plain 6N rule {d['train_flops_6n']:.3e})",
        f"Law             {d['law']['source']} [form {d['law']['form']}, MoE variant {d['law']['moe_variant']}]",
        f"Data vintage    {vintage_words(d['data_vintage'], d['data_vintage_given'], reference=d['law']['vintage'])}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- zoo fits
def _complete(data: str | None, exclude: list[str]) -> tuple[pd.DataFrame, list[str]]:
    t = load_zoo(data)
    unknown = [n for n in exclude if n not in set(t["name"])]
    if unknown:
        raise InputError("--exclude", "must name a model of the table", unknown[0])
    skipped = t.loc[~t["complete"], "name"].tolist()
    t = t[t["complete"] & ~t["name"].isin(exclude)].reset_index(drop=True)
    if len(t) < 8:
        raise InputError(f"--data {data}" if data else "zoo", "needs at least 8 rows with tokens_t and mmlu", len(t))
    return t, skipped


def _summary(residuals: np.ndarray, moe: np.ndarray) -> dict:
    def mae(mask):
        return _num(np.mean(np.abs(residuals[mask]))) if mask.any() else None
    return {"mae": mae(np.ones_like(moe)), "mae_dense": mae(~moe), "mae_moe": mae(moe),
            "rmse": _num(np.sqrt(np.mean(residuals**2))), "worst": _num(np.max(np.abs(residuals))),
            "n": int(len(residuals)), "n_dense": int((~moe).sum()), "n_moe": int(moe.sum())}


#: Ridge strengths compared by forecast error in ``perflaw fit`` (0: no prior).
PRIOR_GRID = (0.0, 10.0, 100.0, 1000.0, 10000.0)


def _priors(prior) -> tuple[float, ...]:
    """The ridge strengths to compare: ``auto`` the grid, else the one given (a number >= 0)."""
    if prior == "auto":
        return PRIOR_GRID
    try:
        value = float(prior)
    except (TypeError, ValueError):
        raise InputError("--prior", "must be auto or a number >= 0", prior) from None
    if not (np.isfinite(value) and value >= 0):
        raise InputError("--prior", "must be auto or a number >= 0", prior)
    return (value,)


def fit_payload(data: str | None, out: str | None, variant: str, free: list[str] | None, loss: str, level: float,
                exclude: list[str], prior="auto", form: str = "auto", force: bool = False) -> dict:
    """The fit of ``form`` at ridge strength ``prior`` (``auto``: the pair with the lowest forecast error)."""
    if out:
        check_output_path(out, force)
    if form != "auto" and form not in LAW_FORMS:
        raise InputError("--form", f"must be auto or one of {', '.join(LAW_FORMS)}", form)
    priors = _priors(prior)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:  # NaN fails too
        raise InputError("level", "must be between 0 and 1 (exclusive)", level)
    t, skipped = _complete(data, exclude)
    x, y = law_inputs(t), t["mmlu"].to_numpy(dtype=float)
    forms = list(LAW_FORMS) if form == "auto" else [form]
    selection = select_law(t, forms, priors, level=level, variant=variant, free=free, loss=loss)
    chosen = selection.chosen
    kwargs = dict(variant=variant, free=free, loss=loss, prior=chosen.prior, form=chosen.form)
    fit: FitResult = fit_law(x, y, **kwargs)
    cv = leave_one_out(x, y, **kwargs)
    nested = selection.nested
    scored = (f"models released after {selection.scored_after}" if selection.scored_after else "models")
    how = (f"chosen before each cut-off from {len(selection.candidates)} forms and priors by their error on the "
           f"earlier windows" if selection.chose else "refit before each cut-off")
    interval = stated_interval(nested, fit.free, fit.covariance,
                               f"this fit's coefficient covariance on {len(y)} models, calibrated on "
                               f"{nested.pooled()['n']} forward-chaining forecasts of {scored} ({how})")
    coef = fit.coefficients.with_values(source=f"perflaw fit on {len(y)} models of {data or 'the zoo'} "
                                               f"({chosen.form} form, {variant} MoE variant, {loss} loss"
                                               + (f", prior {chosen.prior:g} towards {_anchor(chosen.form)}"
                                                  if chosen.prior else "") + ")")
    honest = forecast_summary(nested, f"perflaw fit's forecasts, each by a fit on older models only, {how}")
    coef = replace(coef, interval=interval, forecast=honest)
    payload = {
        "data": data or "zoo", "n": len(y), "skipped_incomplete": skipped, "excluded": exclude,
        "form": chosen.form, "prior": chosen.prior,
        "form_chosen_by": "lowest forecast MAE" if selection.chose else "--form and --prior",
        "scored_after": selection.scored_after,
        "candidates": [{"tokens": LAW_FORMS[c.form][0], "link": LAW_FORMS[c.form][1], **c.row(selection.scored_after)}
                       for c in selection.candidates],
        "chosen_forecast": chosen.row(selection.scored_after),
        "honest_forecast": honest,
        "variant": variant, "free": list(fit.free), "loss": loss, "converged": fit.success,
        "message": fit.message,
        "coefficients": {k: getattr(coef, k) for k in COEFFICIENT_NAMES},
        "paper": {k: getattr(PAPER, k) for k in COEFFICIENT_NAMES},
        "vintage": coef.vintage or None, "expansion_cap": coef.expansion_cap,
        "in_sample": _summary(fit.residuals, x.is_moe),
        "loo": {**_summary(cv.residuals, x.is_moe), "failed_folds": cv.failures},
        "interval": asdict(interval),
        "forecast": chosen.forecast.as_dict(),
        "nested_forecast": nested.as_dict(),
        "spread": bootstrap_spread(x, y, **kwargs),
        "residuals": [
            {"name": n, "arch": a, "reported": r, "fitted": f, "loo": lp, "residual_loo": r - lp}
            for n, a, r, f, lp in zip(t["name"], t["arch"], y, fit.predictions, cv.predictions)
        ],
        "out": out,
    }
    if x.is_moe.sum() >= 3:
        payload["moe_variants"] = compare_moe_variants(x, y, loss=loss)
        for name, row in payload["moe_variants"].items():  # and by forecast error, the chosen form and prior
            f = chosen.forecast if name == variant else forward_chaining(
                t, level=level, form=chosen.form, prior=chosen.prior, variant=name, free=free, loss=loss)
            moe = calibrate([w.released_after(selection.scored_after) for w in f.windows], True, level).pooled("moe")
            row.update(forecast_mae=moe["mae"], forecast_n=moe["n"])
    if out:
        write_atomic(out, lambda p: save_coefficients(coef, p, extra={k: payload[k] for k in (
            "data", "n", "form", "prior", "free", "loss", "in_sample", "loo", "excluded")}), force)
    return payload


def check_output_path(path: str, force: bool = False) -> None:
    """Refuse an output path that cannot be written, or a file perflaw did not write (unless
    ``force``), before any work is done."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("--out", "folder must exist", str(folder))
    check_law_file(target, force)
    if not os.access(folder, os.W_OK):
        raise InputError("--out", "folder must be writable", str(folder))


def write_atomic(path: str, writer, force: bool = False) -> None:
    """Write via a temporary file in the target folder, then rename: no half-written file, and the
    file's mode as the umask gives a new file (not the temporary file's 0600)."""
    check_output_path(path, force)
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise os_error(exc, "--out", target) from None
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, target)
    except OSError as exc:
        raise os_error(exc, "--out", target) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fit_text(d: dict) -> str:
    names = COEFFICIENT_NAMES
    rows = [{"name": k, "paper": d["paper"][k], "fit": d["coefficients"][k],
             "free": "yes" if k in d["free"] else ""} for k in names]
    ins, loo, iv = d["in_sample"], d["loo"], d["interval"]
    out = [f"Fit of the Performance Law on {d['n']} models of {d['data']} ({d['form']} form, {d['variant']} MoE variant, "
           f"{d['loss']} loss{', prior %g towards %s' % (d['prior'], _anchor(d['form'])) if d['prior'] else ''}){'' if d['converged'] else '  NOT CONVERGED: ' + d['message']}",
           "", table(rows, [("name", "coef", ""), ("paper", "paper", ".6g"), ("fit", "fit", ".6g"),
                            ("free", "free", "")]), "",
           *forecast_lines(d["nested_forecast"], _how(d)), "",
           *_comparison_lines(d),
           *(["  Without the clip more tokens always help: the optimizer then trains the same small model on all "
              "the budget buys unless --max-tokens bounds the data."] if LAW_FORMS[d["form"]][0] != "clip" else []),
           "",
           f"In-sample       MAE {fmt(ins['mae'])}  RMSE {fmt(ins['rmse'])}",
           f"Leave-one-out   MAE {fmt(loo['mae'])}  RMSE {fmt(loo['rmse'])}  worst {fmt(loo['worst'])}  "
           f"dense MAE {fmt(loo['mae_dense'])} (n={loo['n_dense']})  MoE MAE {fmt(loo['mae_moe'])} (n={loo['n_moe']})",
           f"Interval        {interval_sentence(Interval(**iv))}"]
    spread = [{"name": k, "fit": d["coefficients"][k], **v} for k, v in d["spread"].items()]
    out += ["", f"Bootstrap spread of the free coefficients ({BOOTSTRAP_RESAMPLES} resamples of the models, seeded):",
            table(spread, [("name", "coef", ""), ("fit", "fit", ".4g"), ("std", "std", ".3g"), ("p10", "p10", ".4g"),
                           ("p90", "p90", ".4g"), ("sign_flips", "sign flips", ".0%")])]
    if "moe_variants" in d:
        out += ["", "MoE variants, leave-one-out on the MoE rows (anchored: paper dense coefficients, "
                    "only the variant's own term fitted; refit: all coefficients):",
                table([{"variant": k, **v} for k, v in d["moe_variants"].items()],
                      [("variant", "variant", ""), ("anchored_mae", "anchored MAE", ".2f"),
                       ("refit_mae", "refit MAE", ".2f"), ("refit_rmse", "refit RMSE", ".2f"),
                       ("n_moe", "n", "d"), ("forecast_mae", "forecast MAE", ".2f"), ("forecast_n", "forecasts", "d")]),
                f"  forecast MAE: MoE forecasts by the {d['form']} form" + (f" at prior {d['prior']:g}" if d["prior"] else "")
                + " with each variant, refit before each cut-off"
                + (f", of models released after {d['scored_after']}" if d["scored_after"] else "")
                + "; the MoE variant is chosen by you (--variant), not by these few forecasts."]
    res = sorted(d["residuals"], key=lambda r: -abs(r["residual_loo"]))
    out += ["", "Per-model residuals (reported - leave-one-out prediction), worst first:",
            table(res, [("name", "model", ""), ("arch", "arch", ""), ("reported", "reported", ".1f"),
                        ("fitted", "fitted", ".1f"), ("loo", "loo pred", ".1f"), ("residual_loo", "residual", "+.1f")])]
    if d["skipped_incomplete"]:
        out += ["", f"Skipped (no tokens or MMLU): {', '.join(d['skipped_incomplete'])}"]
    if d["out"]:
        out += ["", f"Coefficients written to {d['out']} (use with --law)"]
    return "\n".join(out)


def _how(d: dict) -> str:
    scored = f"models released after {d['scored_after']}" if d["scored_after"] else "every model"
    if d["form_chosen_by"] == "--form and --prior":
        return f"{d['form']}" + (f", prior {d['prior']:g}" if d["prior"] else "") + f", refit before each cut-off; {scored}"
    return f"form and prior chosen before each cut-off by the error on the earlier windows; {scored}"


def _comparison_lines(d: dict) -> list[str]:
    """Every form × prior compared by forecast MAE, and what the choice among them costs."""
    cands = d["candidates"]
    if len(cands) < 2:
        return []
    priors = list(dict.fromkeys(c["prior"] for c in cands))
    rows = {}
    for c in cands:
        row = rows.setdefault(c["form"], {"form": c["form"], "tokens": c["tokens"], "link": c["link"]})
        row[f"p{c['prior']:g}"] = c["mae"]
    scored = f"{cands[0]['n']} forecasts of models released after {d['scored_after']}" if d["scored_after"] \
        else f"{cands[0]['n']} forecasts"
    c, h = d["chosen_forecast"], d["nested_forecast"]["pooled"]["all"]
    return [f"Forecast MAE of every form (rows) at every prior (columns), on the {scored}:",
            table(list(rows.values()), [("form", "form", ""), ("tokens", "token term", ""), ("link", "link", ""),
                                        *((f"p{p:g}", f"prior {p:g}", ".2f") for p in priors)]),
            f"  Lowest: {d['form']}" + (f" at prior {d['prior']:g}" if d["prior"] else "") + f", MAE {fmt(c['mae'])} "
            f"(dense {fmt(c['mae_dense'])}, MoE {fmt(c['mae_moe'])}), bias {c['bias']:+.2f}"
            + (f"; {fmt(c['mae_every_window'])} over every window, where a prior may have seen the models"
               if d["scored_after"] else "") + ".",
            f"  The lowest of {len(cands)} errors measured on the same forecasts flatters the pick. Made the same way "
            f"before each cut-off, from the earlier windows only, the choice forecast with MAE {fmt(h['mae'])} "
            "(the table above): that is the error to expect from this fit, and its interval is calibrated on "
            "those forecasts.",
            *(["  The paper's coefficients were published in 2024-08 and may have been fitted on older models, so "
               "only forecasts of newer ones are scored when a prior pulls towards them."] if d["scored_after"]
              else [])]


def _anchor(form: str) -> str:
    return "the paper's coefficients" if LAW_FORMS[form][1] == "bounded" else "the least-squares start"


def forecast_lines(f: dict, what: str, models: str | None = None) -> list[str]:
    """The forecast validation as text: the pooled headline, then one row per window (``models``
    says what the forecasts were of, by default from whether the law was refit)."""
    p = f["pooled"]
    if not p["all"]["n"]:
        return [f"Forecast ({what}): no window to forecast ({'; '.join(f['skipped'])})"]
    models = models or ("models released after the data of each fit" if f["refit"] else
                        "models of the forecast windows (fixed coefficients may have been fitted on them)")
    head = (f"Forecast ({what}): pooled MAE {fmt(p['all']['mae'])} on {p['all']['n']} {models} (dense {fmt(p['dense']['mae'])}, MoE {fmt(p['moe']['mae'])}), bias {p['all']['bias']:+.2f}, "
            f"RMSE {fmt(p['all']['rmse'])}; the {f['level']:.0%} interval covered {p['all']['coverage']:.0%}")
    rows = [{"window": f"{w['cutoff']} to {w['end']}", "train": w["n_train"], **{k: w[k] for k in (
        "n", "mae", "bias", "rmse", "coverage")}, "dense": w["dense"]["mae"], "moe": w["moe"]["mae"]}
        for w in f["windows"] if w["n"]]
    laws = {w.get("law") for w in f["windows"] if w["n"]}
    if len(laws) > 1:  # a choice made before each cut-off: say which law forecast each window
        for row, w in zip(rows, [w for w in f["windows"] if w["n"]]):
            row["law"] = w["law"]
    rows.append({"window": "pooled", "train": None, **{k: p["all"][k] for k in ("n", "mae", "bias", "rmse", "coverage")},
                 "dense": p["dense"]["mae"], "moe": p["moe"]["mae"]})
    cols = [("window", "forecast window", ""), ("train", "fit on", "d"), ("n", "models", "d"), ("mae", "MAE", ".2f"),
            ("bias", "bias", "+.2f"), ("rmse", "RMSE", ".2f"), ("coverage", "covered", ".0%"),
            ("dense", "MAE dense", ".2f"), ("moe", "MAE MoE", ".2f")] + \
        ([("law", "forecast by", "")] if len(laws) > 1 else [])
    rows[-1]["law"] = ""
    return [head, table(rows, cols)] + ([f"Skipped windows: {'; '.join(f['skipped'])}"] if f["skipped"] else [])


# --------------------------------------------------------------------------------------- validate
def validate_payload(data: str | None, coefficients: LawCoefficients, exclude: list[str]) -> dict:
    t, skipped = _complete(data, exclude)
    x, y = law_inputs(t), t["mmlu"].to_numpy(dtype=float)
    law_pred = predict_inputs(x, coefficients)
    cv = leave_one_out(x, y)
    rows = [
        {"name": n, "arch": a, "params_b": s, "tokens_t": tok, "reported": r, "predicted": p, "residual": r - p,
         "loo": lp, "residual_loo": r - lp}
        for n, a, s, tok, r, p, lp in zip(t["name"], t["arch"], t["params_b"].astype(float), x.tokens_t, y, law_pred,
                                          cv.predictions)
    ]
    rows.sort(key=lambda r: -abs(r["residual"]))
    return {
        "data": data or "zoo",
        "law": {"source": coefficients.source, "moe_variant": coefficients.moe_variant, "form": coefficients.form},
        "law_summary": _summary(y - law_pred, x.is_moe),
        "refit_loo_summary": {**_summary(cv.residuals, x.is_moe), "failed_folds": cv.failures},
        "forecast": {"law": forward_chaining(t, coefficients=coefficients, refit=False,
                                             cutoffs=fixed_cutoffs(coefficients)).as_dict(),
                     "refit": forward_chaining(t).as_dict()},
        "rows": rows,
        "skipped_incomplete": skipped,
        "excluded": exclude,
    }


def validate_text(d: dict) -> str:
    law, refit = d["law_summary"], d["refit_loo_summary"]
    out = [f"Predicted vs reported 5-shot MMLU on {law['n']} models of {d['data']} "
           f"({law['n_dense']} dense, {law['n_moe']} MoE), worst residual first",
           f"Law: {d['law']['source']} (form {d['law']['form']})", "",
           *forecast_lines(d["forecast"]["law"], "the law as given: only its interval is calibrated on the past",
                           "models released after the paper's coefficients were published (perflaw's MoE term w5 "
                           "was fitted on every MoE row)" if d["forecast"]["law"]["windows"]
                           and d["forecast"]["law"]["windows"][0]["cutoff"] != DEFAULT_CUTOFFS[0] else None),
           "", *forecast_lines(d["forecast"]["refit"], "the paper's form, refit before each cut-off"), "",
           "Every model:",
           table(d["rows"], [("name", "model", ""), ("arch", "arch", ""), ("params_b", "params B", ".3g"),
                             ("tokens_t", "tokens T", ".3g"), ("reported", "reported", ".1f"),
                             ("predicted", "law", ".1f"), ("residual", "resid", "+.1f"),
                             ("loo", "refit LOO", ".1f"), ("residual_loo", "resid", "+.1f")]),
           "",
           table([{"set": "law (as given)", **law}, {"set": "refit, leave-one-out", **refit}],
                 [("set", "MMLU error", ""), ("mae", "MAE", ".2f"), ("mae_dense", "MAE dense", ".2f"),
                  ("mae_moe", "MAE MoE", ".2f"), ("rmse", "RMSE", ".2f"), ("worst", "worst", ".1f")]),
           "", "Residual = reported - predicted. The law cannot see data quality, distillation, contamination or "
               "evaluation-harness differences; large negative residuals are typically models near chance level."]
    if d["skipped_incomplete"]:
        out += [f"Skipped (no tokens or MMLU): {', '.join(d['skipped_incomplete'])}"]
    return "\n".join(out)
