"""Which run to choose: the search space, problems, strategies, Pareto fronts and the planner mode."""

from perflaw.law.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "perflaw.optimizer.search.space": ("SearchSpace",),
    "perflaw.optimizer.search.problem": ("Constraints", "Problem"),
    "perflaw.optimizer.search.strategies": ("STRATEGIES", "search"),
    "perflaw.optimizer.search.result": ("SearchResult",),
    "perflaw.optimizer.search.plan": ("Plan",),
    "perflaw.optimizer.search.candidates": ("Candidates", "evaluate"),
    "perflaw.optimizer.search.pareto": ("ParetoFront", "non_dominated"),
    "perflaw.optimizer.search.fronts": ("budget_front", "cheapest_for_target", "inference_front"),
    "perflaw.optimizer.search.planner": ("PlannerSettings", "run_planner"),
})
