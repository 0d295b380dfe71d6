"""Write a scenario report folder atomically: CSVs, figures next to them, Markdown, HTML, manifest."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import platform
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from perflaw.law.coefficients import vintage_words
from perflaw.law.errors import InputError
from perflaw.law.predict import interval_for
from perflaw.law.uncertainty import interval_sentence
from perflaw.optimizer.report.drawing import save_all, start_drawing
from perflaw.optimizer.report.data import ReportData, columns
from perflaw.optimizer.report.target import check_report_folder, os_error
from perflaw.optimizer.search.flatness import flatness_sentences
from perflaw.optimizer.search.scrutiny import scrutiny_sentences

LIMITS = ("The Performance Law predicts a base model's 5-shot MMLU from its shape and token count only. It cannot "
          "see data quality or mixture, distillation, benchmark contamination, evaluation-harness differences "
          "(1 to 4 points between harnesses for one checkpoint) or anything about post-training. Its MoE "
          "treatment is perflaw's own, fitted on 21 published MoE models. Costs assume the stated utilization.")

_SHOW = [("budget", "budget"), ("layers", "layers"), ("hidden", "hidden"), ("ffn", "FFN"), ("heads", "heads"),
         ("kv_heads", "KV heads"), ("experts", "experts"), ("active_experts", "top-k"), ("shared_experts", "shared"),
         ("expert_ffn", "expert FFN"), ("params_b", "params (B)"),
         ("active_params_b", "active (B)"), ("tokens_t", "tokens (T)"), ("mmlu", "MMLU"), ("mmlu_low", "low"),
         ("mmlu_high", "high"), ("train_flops", "FLOPs"), ("gpu_hours", "GPU-hours"), ("days", "days"),
         ("usd", "USD"), ("memory_per_gpu_gb", "GB/GPU"), ("layout", "layout"), ("budget_share", "budget used"), ("binding", "binds"),
         ("inside_domain", "in the law's data")]


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("perflaw", "numpy", "scipy", "pandas", "optuna", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _fmt(value, col: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if col == "budget_share":
        return f"{value:.0%}"
    if col in ("train_flops",):
        return f"{value:.3g}"
    if col in ("gpu_hours", "usd"):
        return f"{value:,.0f}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.2f}"
    return str(value)


def _columns(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The columns a table shows: those with a value, and no FFN column for an all-MoE table."""
    return [(c, h) for c, h in _SHOW if c in df and df[c].notna().any() and not (c == "ffn" and (df[c] == 0).all())]


#: Markdown's inline syntax: escaped so that text reads in report.md as the HTML shows it, literally.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~$"})


def _md_text(text) -> str:
    """Text as Markdown shows it literally (user text cannot become links, HTML or formatting)."""
    return str(text).translate(_MD_SPECIAL)


def _md_table(df: pd.DataFrame) -> str:
    cols = _columns(df)
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_md_text(_fmt(r[c], c)) for c, _ in cols) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    cols = _columns(df)
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r[c], c))}</td>" for c, _ in cols) + "</tr>"
                   for _, r in df.iterrows())
    # in a scrolling box: a table wider than the page scrolls by itself instead of widening the page
    return f'<div class="wide"><table class="plans"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _csv(df: pd.DataFrame, path: Path) -> None:
    """A CSV whose text cells cannot run as spreadsheet formulas (a leading =, +, -, @ gets a ')."""
    df = df.copy()
    for col in df.columns:
        if not (pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col])):
            df[col] = df[col].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v)
    df.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_report(scenario, data: ReportData, out: Path, force: bool = False) -> Path:
    """Write the report of ``scenario`` into the folder ``out``: replaced only once complete, and only
    if it is absent, empty or perflaw's own report; a folder of other files only with ``force``, and
    then the report's files are written into it and nothing there is deleted (report.target)."""
    out = Path(out)
    mode = check_report_folder(out, force)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("out", "folder must be creatable", f"{parent} ({exc.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise InputError("out", "folder must be writable", str(parent))
    _remove_stale(parent, out.name)
    tmp = parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _write_all(scenario, data, tmp)
        if mode == "into":  # the user's folder: each report file moves in whole; nothing else is touched
            for f in sorted(tmp.iterdir()):
                os.replace(f, out / f.name)
        elif out.exists() and _exchange(tmp, out):
            pass  # tmp now holds the previous report and is removed below
        else:
            old = parent / f".{out.name}.old-{os.getpid()}"
            if out.exists():  # no atomic exchange on this system: a short window without a report
                os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise os_error(exc, "--out", out) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _remove_stale(parent: Path, name: str) -> None:
    """Delete temporary folders left by killed runs (their process no longer exists)."""
    for leftover in list(parent.glob(f".{name}.tmp-*")) + list(parent.glob(f".{name}.old-*")):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _write_all(scenario, d: ReportData, folder: Path) -> None:
    review = len(scenario.budgets) > 1
    _csv(d.candidates, folder / "candidates.csv")
    _csv(d.front, folder / "front.csv")
    _csv(d.references, folder / "references.csv")
    top = max(b.flops for b in scenario.budgets)
    what = (f"{len(scenario.budgets)} budgets, up to {top:.3g} FLOPs" if review else f"budget {top:.3g} FLOPs")
    best = d.candidates.iloc[0].to_dict() if len(d.candidates) else None
    if review and len(d.candidates):  # the landscape is drawn at the largest budget
        largest = d.candidates.loc[d.candidates["budget_flops"].idxmax(), "budget"]
        best = d.candidates[(d.candidates["budget"] == largest) & (d.candidates["rank"] == 1)].iloc[0].to_dict()
    jobs = [  # named, not imported: the figure helpers draw them (report.drawing), from columns
        ("pareto", "pareto", (columns(d.front), columns(d.references), review,
                              f"Predicted MMLU of the best plans against training compute ({what})")),
        ("allocation", "allocation", (columns(d.allocation), columns(d.baselines), top,
                                      f"Parameters and tokens of the best plans ({what})")),
        ("landscape", "landscape", (columns(d.landscape), best, f"Best predicted MMLU per layers and hidden size at "
                                    f"{top:.3g} FLOPs (plans the search may recommend)")),
    ]
    drawing = None
    try:
        drawing = start_drawing(jobs, folder)  # the run's helpers draw while the tables left for later are computed
        d.complete()
        _csv(d.allocation, folder / "allocation.csv")
        _csv(d.baselines, folder / "baselines.csv")
        _csv(d.landscape, folder / "landscape.csv")
        pngs = drawing.finish() if drawing is not None else save_all(jobs, folder)  # PNG bytes by stem
    except BaseException:
        if drawing is not None:
            drawing.cancel()
        raise
    if len(d.inference_front):
        _csv(d.inference_front, folder / "inference_front.csv")
    best_plans = d.candidates[d.candidates["rank"] == 1]
    md, body = _sections(scenario, d, best_plans, review)
    (folder / "report.md").write_text(md, encoding="utf-8")
    (folder / "report.html").write_text(_html(scenario, body, pngs), encoding="utf-8")
    manifest = {
        "scenario": {"name": scenario.name, "file": Path(scenario.path).name if scenario.path else None, "sha256": scenario.digest},
        "versions": _versions(),
        "law": {k: getattr(scenario.coefficients, k) for k in ("w1", "w2", "w3", "w4", "b", "w5", "moe_variant",
                                                                "source")},
        **({"law_form": scenario.coefficients.form,
            "data_vintage": scenario.coefficients.used_vintage(scenario.vintage)}
           if scenario.coefficients.form != "paper" else {}),
        "interval": d.interval,
        "forecast": d.forecast,
        "search": {"strategy": scenario.strategy, "trials": scenario.trials, "seed": scenario.seed},
        "budgets": [b.as_dict() for b in scenario.budgets],
        "files": {p.name: _sha(p) for p in sorted(folder.glob("*.csv"))},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _assumptions(scenario, d: ReportData) -> list[str]:
    b = scenario.budgets[0].as_dict()
    hw = b["hardware"] or "not given (FLOPs only)"
    util = (f"MFU {b['mfu']:.1%} × goodput {b['goodput']:.1%} = {b['effective_utilization']:.1%} end to end "
            f"({b['utilization_source']})") if b["mfu"] else "not needed (budget in FLOPs)"
    iv = d.interval
    return [
        f"Hardware: {hw}, {b['precision'].upper()} dense peak, {scenario.gpus or 'unspecified'} GPUs.",
        f"Utilization: {util}.",
        f"Law: {scenario.coefficients.source}; form {scenario.coefficients.form}; MoE variant "
        f"{scenario.coefficients.moe_variant}; data vintage "
        f"{vintage_words(scenario.coefficients.used_vintage(scenario.vintage), scenario.vintage, 'vintage', scenario.coefficients.vintage)}.",
        f"Error: {interval_sentence(interval_for(scenario.coefficients))}.",
        *([f"Forecast error: the law missed the {fc['n']} published models released from {fc['first_month']} to "
           f"{fc['last_month']} by {fc['mae']:.1f} MMLU points on average (bias {fc['bias']:+.1f}, reported minus "
           f"predicted; {fc['method']}), and its {iv['level']:.0%} interval covered {fc['coverage']:.0%} of them: "
           "read every prediction here with that error in mind."]
          if (fc := d.forecast) and fc.get("n") else []),
        *([f"Data: {scenario.constraints.unique_tokens_t:g}T unique tokens; plans may repeat them, each repeat counted "
           "at its worth (Muennighoff et al. 2023)."] if scenario.constraints.unique_tokens_t is not None else []),
        f"Trust: {scenario.trust} (" + ("only plans inside the law's domain: the shapes, tokens per parameter and "
                                        "sizes of published models of comparable size" if scenario.trust == "data"
                                        else "the raw law, wherever it leads") + "); objective: "
        + ("the predicted MMLU" if scenario.objective == "mean" else "the low end of the interval (risk-averse)")
        + ".",
        f"Search: {scenario.strategy}" + (f", seed {scenario.seed}" if scenario.strategy != "exact" else "")
        + f"; training FLOPs per token by the {scenario.flops_rule} rule at sequence length {scenario.seq_len}.",
    ]


def _marginal(best_plans: pd.DataFrame) -> str:
    """What each step up of a budget review buys: ΔMMLU per extra dollar (or GPU-hour, or FLOP) of budget."""
    rows = best_plans.sort_values("budget_flops").to_dict("records")
    steps = []
    for a, b in zip(rows, rows[1:]):
        gain = b["mmlu"] - a["mmlu"]
        for col, unit, scale in (("usd", "$1M", 1e6), ("gpu_hours", "100k GPU-hours", 1e5),
                                 ("train_flops", "1e24 FLOPs", 1e24)):
            per_flop = [r.get(col, np.nan) / r["train_flops"] for r in (a, b)]
            if not all(np.isfinite(per_flop)):
                continue
            extra = (b["budget_flops"] * per_flop[1] - a["budget_flops"] * per_flop[0]) / scale  # the budgets' step
            if extra <= 0:
                continue
            amount = f"${extra:.3g}M" if col == "usd" else f"{extra:.3g} × {unit}"
            steps.append(f"{a['budget']} to {b['budget']}: {gain:+.2f} MMLU for {amount} more, "
                         f"{gain / extra:+.2f} per {unit}")
            break
    return ("What each step buys: " + "; ".join(steps) + ".") if steps else ""


def _trust_lines(scenario, d: ReportData, review: bool) -> list[str]:
    """Each budget's best plan against the law's data, the law's own optimum, and the edges it sits on."""
    out = [f"{label}: no feasible plan: {reason}" for label, reason in d.infeasible]
    for label, best, optimum, bounds, flat, note in d.scrutiny:
        prefix = f"{label}: " if review else ""
        pairs = scrutiny_sentences(best, optimum, bounds, note) + flatness_sentences(flat, scenario.objective)
        out += [f"{prefix}{what}: {text}" for what, text in pairs]
    return out


def _sections(scenario, d: ReportData, best_plans: pd.DataFrame, review: bool) -> tuple[str, list]:
    """The report as Markdown and as a list of (kind, content) blocks for HTML."""
    blocks = [("h1", f"perflaw report: {scenario.name}"), ("p", scenario.description),
              ("h2", "Budget review: best plan per budget" if review else "Best plan"), ("table", best_plans)]
    if review:
        blocks += [("p", _marginal(best_plans))]
    trust = _trust_lines(scenario, d, review)
    if trust:
        blocks += [("h2", "Where the law has data, and what it alone would pick"), ("ul", trust)]
    if len(d.front) and not review:
        blocks += [("h2", "Pareto front: predicted MMLU against training compute"), ("img", "pareto"),
                   ("table", d.front)]
    else:
        blocks += [("h2", "Budgets compared"), ("img", "pareto")]
    blocks += [("h2", "Parameters and tokens against the compute-optimal lines"), ("img", "allocation"),
               ("h2", "Landscape: predicted MMLU over layers and hidden size"), ("img", "landscape")]
    if len(d.inference_front):
        blocks += [("h2", "Inference front: MMLU against activated parameters"), ("table", d.inference_front)]
    if d.target is not None:
        t = d.target
        plan = t["plan"]
        text = (f"Cheapest plan reaching MMLU {t['mmlu']:g}: {plan.architecture.layers} layers, hidden "
                f"{plan.architecture.hidden}, {plan.params_b:.2f}B parameters, {plan.tokens_t:.2f}T tokens, "
                f"{plan.train_flops:.3g} FLOPs.") if plan else f"Target MMLU {t['mmlu']:g}: {t['reason']}"
        blocks += [("h2", "Target"), ("p", text)]
    if len(d.references) or d.unplotted:
        refs = "; ".join(f"{r['name']}: reported {r['reported_mmlu']:.1f}, law {r['predicted_mmlu']:.1f}"
                         for _, r in d.references.iterrows())
        missing = "; ".join(f"{u['name']} ({u['reason']})" for u in d.unplotted)
        blocks += [("h2", "Reference models"), ("p", refs + (". " if refs and missing else "")
                                                   + (f"Not drawn: {missing}." if missing else ""))]
    blocks += [("h2", "Assumptions"), ("ul", _assumptions(scenario, d)), ("h2", "Limits"), ("p", LIMITS)]
    md = []
    for kind, content in blocks:
        if kind == "h1":
            md.append(f"# {_md_text(content)}\n")
        elif kind == "h2":
            md.append(f"## {_md_text(content)}\n")
        elif kind == "p":
            md.append(f"{_md_text(content)}\n")
        elif kind == "ul":
            md.append("\n".join(f"- {_md_text(x)}" for x in content) + "\n")
        elif kind == "table":
            md.append(_md_table(content) + "\n")
        elif kind == "img":
            md.append(f"![{content}]({content}.png)\n")
    return "\n".join(md), blocks


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;
border-bottom:1px solid #ddd}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid
#ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3}img{max-width:100%;height:auto}
.wide{overflow-x:auto}
@page{size:landscape}
@media print{body{max-width:none;margin:0}h2{page-break-after:avoid}img,table{page-break-inside:avoid}
.wide{overflow:visible}table{font-size:.6em}th,td{padding:.1em .2em}img{max-height:16cm}}"""


def _html(scenario, blocks: list, pngs: dict[str, bytes]) -> str:
    parts = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{html.escape(str(content))}</{kind}>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in content) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(content))
        elif kind == "img":
            data = base64.b64encode(pngs[content]).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(content)} figure" src="data:image/png;base64,{data}">'
                         f"</figure>")
    title = html.escape(f"perflaw report: {scenario.name}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
