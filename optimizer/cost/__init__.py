"""What a run costs: the hardware catalog, budgets, plan cost, training and serving memory, layouts."""

from perflaw.law.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "perflaw.optimizer.cost.hardware": ("Hardware", "PublishedRun", "Utilization", "default_utilization",
                                        "get_hardware", "load_catalog", "published_runs"),
    "perflaw.optimizer.cost.budget": ("BUDGET_KINDS", "Budget"),
    "perflaw.optimizer.cost.plan_cost": ("PlanCost", "plan_cost"),
    "perflaw.optimizer.cost.memory": ("Layout", "MemoryBreakdown", "fits", "fits_one_gpu", "inference_memory",
                                      "training_memory"),
    "perflaw.optimizer.cost.layout": ("LayoutSearch", "search_layout"),
    "perflaw.optimizer.cost.throughput_runs": ("load_throughput_runs",),
})
