"""perflaw: plan LLM pretraining runs with the Performance Law (Wu & Tang, arXiv 2408.09895).

The front door for Python users::

    import perflaw
    result = perflaw.optimize(flops=1e24, hardware="H100-SXM", gpus=1024, params_b=(1, 70))
    result.best.mmlu, result.best.interval, result.best.architecture, result.to_frame()
    perflaw.predict(perflaw.Architecture.from_hf_config("config.json"), tokens_t=15)
    perflaw.run_scenario("scenarios/7b-512xh100-30d.toml", out="report/")

Names load lazily, so ``import perflaw`` is cheap. The layers below are ``perflaw.law`` (what a
model is and scores) and ``perflaw.optimizer`` (what a run costs and which run to choose).
"""

from perflaw.law.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "perflaw.version": ("__version__",),
    "perflaw.optimizer.api": ("ScenarioRun", "optimize", "predict", "run_scenario"),
    "perflaw.optimizer.scenario.loader": ("Scenario", "load_scenario"),
    "perflaw.optimizer.report.data": ("ReportData", "build_report"),
    "perflaw.optimizer.report.writer": ("write_report",),
    "perflaw.optimizer.search.plan": ("Plan",),
    "perflaw.optimizer.search.result": ("SearchResult",),
    "perflaw.optimizer.cost.hardware": ("Hardware", "get_hardware", "load_catalog"),
    "perflaw.optimizer.cost.budget": ("Budget",),
    "perflaw.optimizer.cost.plan_cost": ("PlanCost", "plan_cost"),
    "perflaw.law.architecture": ("Architecture",),
    "perflaw.law.coefficients": ("PAPER", "LawCoefficients", "load_coefficients"),
    "perflaw.law.errors": ("InputError",),
    "perflaw.law.predict": ("Prediction", "PredictionInterval"),
})
__all__ = [name for name in __all__ if name != "__version__"]  # a module attribute, not an export
del lazy_exports
