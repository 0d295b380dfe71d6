"""The ``perflaw`` command line: parse arguments, run one command, print text or one JSON object.

Every user mistake ends in one line on stderr naming the input, the rule and the value, and exit
status 2; success is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from perflaw.law.architecture import FLOPS_RULES
from perflaw.law.coefficients import DEFAULT_MOE_VARIANT, LOSSES, MOE_VARIANTS
from perflaw.law.errors import InputError
from perflaw.optimizer.cli.arch_args import (add_architecture_arguments, add_law_arguments, architecture_from_args,
                                 coefficients_from_args, seq_len_from_args, tokens_t_from_args,
                                 unique_tokens_t_from_args)
from perflaw.optimizer.cli.hardware_args import add_budget_arguments, add_hardware_arguments

# Command modules are imported when their command runs: `perflaw plan` must start fast, and
# scipy and pandas are only needed by the law and cost commands.


class UsageError(Exception):
    """An argument the parser itself rejected (unknown flag, missing value, bad choice)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; we want one line
        raise UsageError(f"{self.prog}: {message}")


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked for (perflaw.version)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from perflaw.version import __version__
        sys.stdout.write(f"perflaw {__version__}\n")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The parser; the arguments of ``command`` only ("*": every command's; None: none, for
    ``perflaw --help``), so that a command builds, and imports, only what it needs."""

    def want(name: str) -> bool:
        return command in ("*", name)

    parser = _Parser(prog="perflaw", description="Plan LLM pretraining runs with the Performance Law "
                                                 "(Wu & Tang, arXiv 2408.09895).")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("predict", help="predict MMLU for one architecture and token count")
    if want("predict"):
        add_architecture_arguments(p)
        add_law_arguments(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("fit", help="refit the law's coefficients on a model table, with leave-one-out errors")
    if want("fit"):
        p.add_argument("--data", metavar="TABLE", help="CSV with the columns of the zoo (default: the shipped zoo)")
        p.add_argument("--out", metavar="FILE", help="write the coefficients (JSON) for --law")
        p.add_argument("--force", action="store_true", help="replace --out even if perflaw did not write it")
        p.add_argument("--variant", choices=MOE_VARIANTS, default=DEFAULT_MOE_VARIANT, help="MoE variant of the law")
        p.add_argument("--free", metavar="NAMES", help="comma-separated coefficients to fit (default w1,w2,w3,w4,b "
                                                       "and w5 for the expansion variant)")
        p.add_argument("--loss", choices=LOSSES, default="linear", help="scipy least_squares loss (default linear)")
        p.add_argument("--level", type=float, default=0.8, help="nominal coverage of the interval (default 0.8)")
        p.add_argument("--form", default="auto",
                       help="law form: paper, no-clip, smooth, logistic, logistic-no-clip, each also +vintage, "
                            "or auto (default: the lowest forecast error)")
        p.add_argument("--prior", default="auto",
                       help="ridge strength towards the form's start (the paper's coefficients for bounded forms), "
                            ">= 0 (0: none), or auto (default: the lowest forecast error of 0, 10, 100, 1000, 10000)")
        p.add_argument("--exclude", action="append", default=[], metavar="NAME", help="leave a model out (repeatable)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("validate", help="predicted vs reported MMLU on the zoo, paper and refit")
    if want("validate"):
        p.add_argument("--data", metavar="TABLE", help="CSV with the columns of the zoo (default: the shipped zoo)")
        p.add_argument("--law", metavar="FILE", help="coefficient file from 'perflaw fit --out' (default: the paper's)")
        p.add_argument("--exclude", action="append", default=[], metavar="NAME", help="leave a model out (repeatable)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    p = sub.add_parser("run", help="run scenario files and write their reports (reports/<name>/)")
    if want("run"):
        p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                       help="scenario TOML file(s); default: the built-in 7B-class scenario")
        p.add_argument("--out", metavar="DIR", help="report folder (one scenario only; default reports/<name>)")
        p.add_argument("--force", action="store_true",
                       help="write into a folder that holds other files (nothing there is deleted)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("optimize", help="best predicted MMLU for a budget: exact, optuna or scipy search")
    if want("optimize"):
        add_budget_arguments(p)
        add_hardware_arguments(p)
        add_law_arguments(p, tokens=False)
        from perflaw.optimizer.cli.optimize_commands import add_optimize_arguments
        add_optimize_arguments(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("plan", help="the Performance Law author's planning tool, reproduced exactly")
    if want("plan"):
        p.add_argument("--tflops", type=float, default=376.0, help="BF16 TFLOP/s per GPU (376)")
        p.add_argument("--gpus", type=str, default="1024", help="GPUs (1024)")
        p.add_argument("--mfu", type=float, default=40.0, help="MFU in percent (40)")
        p.add_argument("--days", type=float, default=30.0, help="training days (30)")
        p.add_argument("--layers", default="20:100", help="MIN:MAX layers, MAX exclusive (20:100)")
        p.add_argument("--params", default="10B:100B", help="MIN:MAX parameters (10B:100B)")
        p.add_argument("--max-tokens", default="20T", help="tokens below this (20T)")
        p.add_argument("--gamma", type=float, default=1.0, help="precision loss >= 1 (1)")
        p.add_argument("--min-mmlu", type=float, default=50.0, help="minimum MMLU, on the law before its bounds (50)")
        p.add_argument("--rank", choices=("performance", "shallow", "balance"), default="performance",
                       help="performance: MMLU; shallow: fewest layers; balance: MMLU^2 / ln(1 + layers)")
        p.add_argument("--top", type=str, default="10", help="rows to show (10)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("hardware", help="list the accelerator catalog with its utilization defaults")
    if want("hardware"):
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("throughput", help="the step-time model's MFU against published runs, row by row")
    if want("throughput"):
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("cost", help="FLOPs, GPU-hours, days, dollars, energy and layout of one plan")
    if want("cost"):
        add_architecture_arguments(p)
        add_law_arguments(p, vintage=False)
        add_hardware_arguments(p)
        p.add_argument("--flops-rule", choices=FLOPS_RULES, default="attention",
                       help="attention: 6 x matmul weights + attention at --seq-len (default); "
                            "6N: 6 x activated params")
        g = p.add_argument_group("parallel layout (the fastest that fits is searched unless --tp/--pp are given)")
        g.add_argument("--tp", type=str, help="tensor-parallel degree")
        g.add_argument("--pp", type=str, help="pipeline-parallel degree")
        g.add_argument("--vpp", type=str, help="virtual pipeline stages per GPU, interleaved (with --pp; default 1)")
        g.add_argument("--cp", type=str, help="context-parallel degree (with --tp/--pp; default 1)")
        g.add_argument("--ep", type=str, help="expert-parallel degree (MoE, with --tp/--pp; default 1)")
        g.add_argument("--global-batch", type=str, metavar="SEQ",
                       help="sequences per optimizer step (default: 1,024 tokens per GPU, 4M to 16M tokens)")
        g.add_argument("--scaleout-gbps", type=float, metavar="GB/s",
                       help="network per GPU out of the NVLink domain, one direction (default: the catalog's)")
        g.add_argument("--layout-rule", choices=("time", "memory"), default="time",
                       help="search for the fastest layout (time, default) or by the older memory rule")
        g.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=None, help="ZeRO stage (3 = FSDP)")
        g.add_argument("--recompute", choices=("none", "selective", "full"), default=None, help="activation recompute")
        g.add_argument("--micro-batch", type=str, default="1", help="sequences per micro-batch (default 1)")
        g.add_argument("--headroom", type=float, default=0.1, help="fraction of HBM kept free (default 0.1)")
        g = p.add_argument_group("inference constraint (optional)")
        g.add_argument("--serve-hardware", metavar="NAME", help="the model must serve on one GPU of this kind")
        g.add_argument("--serve-hbm-gb", type=float, metavar="GB", help="... or on one GPU with this much memory")
        g.add_argument("--serve-context", type=str, default="8192", help="context length when serving (8192)")
        g.add_argument("--serve-batch", type=str, default="1", help="concurrent sequences when serving (1)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _run(args: argparse.Namespace, names: dict[str, str]) -> tuple[dict, str]:
    """Run the command; ``names`` maps library fields to this command's flags."""
    if args.command in ("predict", "fit", "validate"):
        from perflaw.optimizer.cli import law_commands as lc
    if args.command in ("hardware", "cost"):
        from perflaw.optimizer.cli import cost_commands as cc
    if args.command == "predict":
        from perflaw.law.predict import check_gamma
        choice = architecture_from_args(args)
        payload = lc.predict_payload(choice, tokens_t_from_args(args), coefficients_from_args(args),
                                     check_gamma(args.gamma, "--gamma"), seq_len_from_args(args), args.data_vintage,
                                     unique_tokens_t_from_args(args))
        return payload, lc.predict_text(payload)
    if args.command == "fit":
        free = [n.strip() for n in args.free.split(",")] if args.free is not None else None
        payload = lc.fit_payload(args.data, args.out, args.variant, free, args.loss, args.level, args.exclude,
                                 args.prior, args.form, force=args.force)
        return payload, lc.fit_text(payload)
    if args.command == "validate":
        payload = lc.validate_payload(args.data, coefficients_from_args(args), args.exclude)
        return payload, lc.validate_text(payload)
    if args.command == "run":
        from perflaw.optimizer.report.drawing import Drawers, cores
        # forked first: the figure helper imports matplotlib while this process imports pandas and searches
        with Drawers.started(1 if cores() > 1 else 0, spread=True):
            from perflaw.optimizer.cli.run_commands import run_payload, run_text
            show = (lambda msg: print(msg, file=sys.stderr, flush=True)) if not args.json and sys.stderr.isatty() \
                else None
            payload = run_payload(args.scenarios, args.out, progress=show, force=args.force)
        return payload, run_text(payload)
    if args.command == "optimize":
        from perflaw.optimizer.cli.optimize_commands import optimize_payload, optimize_text, progress_wanted
        if args.strategy == "optuna":  # imported only where it is used
            import optuna
            optuna.logging.set_verbosity(optuna.logging.ERROR)  # the CLI, not the library: no per-trial chatter
        import logging
        logging.getLogger("sqlalchemy").setLevel(logging.CRITICAL)  # its cursor errors on Ctrl-C: said once, below
        payload = optimize_payload(args, progress_wanted(args), words=lambda text: fields_as_flags(text, names))
        return payload, optimize_text(payload)
    if args.command == "plan":
        from perflaw.optimizer.cli.plan_command import plan_payload, plan_text
        payload = plan_payload(args)
        return payload, plan_text(payload)
    if args.command == "hardware":
        payload = cc.hardware_payload()
        return payload, cc.hardware_text(payload)
    if args.command == "cost":
        payload = cc.cost_from_args(args)
        return payload, cc.cost_text(payload)
    if args.command == "throughput":
        from perflaw.optimizer.cli import throughput_commands as tc
        payload = tc.throughput_payload()
        return payload, tc.throughput_text(payload)
    raise UsageError("perflaw: a command is required (run, optimize, plan, predict, cost, fit, validate, "
                     "hardware, throughput); see perflaw --help")


#: Library fields whose flag is not ``--`` + the field with dashes (the rest follow from the parser).
FLAG_ALIASES = {"params_b": "--params", "min_tokens_t": "--min-tokens", "max_tokens_t": "--max-tokens",
                "unique_tokens_t": "--unique-tokens",
                "tokens_t": "--tokens", "price_usd_per_gpu_hour": "--price", "grid_kg_per_kwh": "--grid-co2",
                "mfu_percent": "--mfu", "grid": "--layers/--max-tokens", "coefficients": "--law",
                "active_params_b": "--active-params"}
_FIELD = re.compile(r"`([a-z][a-z0-9_]*)`")  # a field the library names in a sentence, in backticks


def flag_names(parser: argparse.ArgumentParser, command: str | None) -> dict[str, str]:
    """Library field name -> flag of ``command``: its options' destinations, then the aliases."""
    names = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            names = {a.dest: a.option_strings[0] for a in action.choices[command]._actions
                     if a.option_strings and a.dest != "help"}
    return {**names, **FLAG_ALIASES}


FILE_FLAGS = ("hf_config", "law", "data")  # flags naming a file: the library names the file, we add the flag


def as_flags(exc: InputError, names: dict[str, str], args: argparse.Namespace | None = None) -> InputError:
    """The library's error in the command line's words: the field, and fields named in the rule, as flags;
    an error about a file given by a flag is prefixed with that flag."""
    for dest in FILE_FLAGS:
        value = getattr(args, dest, None)
        if isinstance(value, str) and exc.input_name.startswith(str(Path(value))):
            return InputError(f"{names.get(dest, dest)} {exc.input_name}", exc.rule, exc.value)
    renamed = exc.renamed(names)
    return InputError(renamed.input_name, fields_as_flags(renamed.rule, names), renamed.value)


def fields_as_flags(text: str, names: dict[str, str]) -> str:
    """Library field names written in a sentence (``lower min_mmlu to 76``), as the user's flags."""
    return _FIELD.sub(lambda m: names.get(m.group(1), m.group(1)), text)


def _non_finite(value, path: str = "") -> str | None:
    """The key path of the first NaN or infinity in a JSON payload (None if every number is finite)."""
    import math
    if isinstance(value, float):
        return (path or "value") if not math.isfinite(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for k, v in items:
        found = _non_finite(v, f"{path}.{k}" if path and not str(k).startswith("[") else f"{path}{k}")
        if found is not None:
            return found
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
        args = parser.parse_args(argv)
        names = flag_names(parser, args.command)
        try:
            payload, text = _run(args, names)
        except InputError as exc:  # the library names fields; the user typed flags
            raise as_flags(exc, names, args) from None
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except (UsageError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: temporary files are already removed (finally blocks); say so once
        print("interrupted: nothing half-written was left (reports and law files are replaced only once "
              "complete; a stored study keeps its finished trials)", file=sys.stderr)
        return 130
    try:
        bad = _non_finite(payload)
    except KeyboardInterrupt:  # the work is done and written
        print("interrupted before printing; the results were written", file=sys.stderr)
        return 130
    if bad is not None:  # a result the law cannot give (an underflow or overflow): said, never NaN in JSON
        print(f"error: {args.command}: the result {bad} is not a finite number for these inputs (an extreme "
              "value such as a huge --gamma or a tiny peak); change them", file=sys.stderr)
        return 2
    try:
        if getattr(args, "json", False):
            print(json.dumps(payload, allow_nan=False, default=_json_default))
        else:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed early (perflaw ... | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except KeyboardInterrupt:  # while printing: the work is done and written
        print("interrupted while printing; the results were written", file=sys.stderr)
        return 130
    return 0


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
