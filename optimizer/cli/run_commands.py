"""The run command of the CLI: scenario files in, report folders out (one per scenario)."""

from __future__ import annotations

from pathlib import Path

from perflaw.law.errors import InputError
from perflaw.optimizer.api import run_scenario
from perflaw.optimizer.report.target import check_report_folder
from perflaw.optimizer.scenario.loader import builtin_scenario_path, load_scenario

DEFAULT_REPORTS = Path("reports")


def run_payload(paths: list[str], out: str | None, progress=None, force: bool = False) -> dict:
    """Run every scenario; ``out`` (a folder) is allowed with a single scenario only. Every scenario
    and every report folder is checked before any search runs (report.target)."""
    if not paths:
        paths = [str(builtin_scenario_path())]
    if out is not None and len(paths) > 1:
        raise InputError("--out", "names one report folder, so it takes a single scenario", f"{len(paths)} files")
    scenarios = [load_scenario(p) for p in paths]  # validate every file before running any
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError("SCENARIO", "names must be unique (each writes reports/<name>)", dup)
    for s in scenarios:
        check_report_folder(Path(out) if out is not None else DEFAULT_REPORTS / s.name, force)
    reports = []
    for i, scenario in enumerate(scenarios):
        if progress:
            progress(f"[{i + 1}/{len(scenarios)}] {scenario.name}")
        run = run_scenario(scenario, out, reports=DEFAULT_REPORTS, progress=progress, force=force)
        data, folder = run.data, run.folder
        best = data.candidates[data.candidates["rank"] == 1]
        reports.append({
            "scenario": scenario.name, "folder": str(folder), "seconds": run.seconds,
            "files": sorted(p.name for p in folder.iterdir()),
            "best": [{k: (None if v != v else v) for k, v in r.items()}  # NaN -> null
                     for r in best[["budget", "layers", "hidden", "ffn", "experts", "active_experts", "shared_experts",
                                    "expert_ffn", "params_b", "tokens_t", "mmlu", "train_flops"]].to_dict("records")],
        })
    return {"reports": reports}


def run_text(d: dict) -> str:
    lines = []
    for r in d["reports"]:
        lines.append(f"{r['scenario']}: wrote {r['folder']}/ ({len(r['files'])} files) in {r['seconds']:.1f} s")
        for b in r["best"]:
            ffn = (f"{b['experts']:.0f} experts of {b['expert_ffn']:.0f}, top-{b['active_experts']:.0f}"
                   + (f" + {b['shared_experts']:.0f} shared" if b["shared_experts"] else "")) \
                if b.get("experts") else f"FFN {b['ffn']}"
            lines.append(f"  {b['budget']}: {b['layers']} layers, hidden {b['hidden']}, {ffn}, "
                         f"{b['params_b']:.2f}B params, {b['tokens_t']:.2f}T tokens -> MMLU {b['mmlu']:.2f}")
    return "\n".join(lines)
