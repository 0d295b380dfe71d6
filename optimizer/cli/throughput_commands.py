"""The throughput command of the CLI: the step-time model against published runs, as a JSON payload and its text."""

from __future__ import annotations

from perflaw.optimizer.cli.textfmt import table


def throughput_payload() -> dict:
    from perflaw.optimizer.cost import throughput_check as tc
    from perflaw.optimizer.cost.end_to_end import end_to_end_runs
    from perflaw.optimizer.cost.step_constants import DEFAULT_CONSTANTS
    rows, skipped = tc.cases()
    t = tc.predict(rows)
    keep = ["row", "name", "source", "split", "hardware", "precision", "layout", "published_tokens_per_gpu_s",
            "predicted_tokens_per_gpu_s", "published_mfu", "predicted_mfu", "error"]
    records = [{k: (None if v != v else v) for k, v in r.items()} for r in t[keep].to_dict("records")]
    return {"summary": tc.summary(t), "rows": records,
            "skipped": [{"row": i, "name": n, "why": w} for i, n, w in skipped],
            "constants": DEFAULT_CONSTANTS.as_dict(), "fitted": list(DEFAULT_CONSTANTS.FITTED),
            "end_to_end": [r.as_dict() for r in end_to_end_runs()]}


def throughput_text(d: dict) -> str:
    s = d["summary"]
    lines = [f"Step-time model against {s['all']['rows']} published runs (tokens/s per GPU; the error is the same "
             "for the MFU):"]
    for split, what in (("fit", "fitting rows (even groups)"), ("test", "held-out rows (odd groups)")):
        lines.append(f"  {what:<31} {s[split]['rows']:>3} rows: median |error| {s[split]['median_abs_error']:.1%}, "
                     f"{s[split]['over_25pct']:.1%} off by more than 25 %")
    cols = [("row", "row", "d"), ("name", "run", lambda n: n[:72]), ("split", "split", ""),
            ("published_mfu", "MFU pub", ".3f"), ("predicted_mfu", "MFU pred", ".3f"),
            ("error", "error", lambda e: f"{e:+.1%}")]
    lines += ["", table(d["rows"], cols), "", f"{len(d['skipped'])} rows not predicted:"]
    lines += [f"  {x['row']:>3} {x['name'][:70]}: {x['why']}" for x in d["skipped"]]
    e2e = [{**r, "pred": r["predicted_gpu_hours"] / 1e6, "pub": r["published_gpu_hours"] / 1e6}
           for r in d["end_to_end"]]
    lines += ["", "Published runs end to end (GPU-hours, millions):",
              table(e2e, [("run", "run", ""), ("layout", "layout", ""), ("mfu", "MFU", ".3f"),
                          ("goodput", "goodput", ".2f"), ("pred", "predicted", ".3f"), ("pub", "published", ".3f"),
                          ("ratio", "ratio", ".2f")])]
    lines += [f"  {r['run']}: {r['not_seen']}" for r in d["end_to_end"]]
    return "\n".join(lines)
