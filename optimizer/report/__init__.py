"""Scenario reports: their tables, their figures and the folder that holds them, written atomically."""

from perflaw.law.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "perflaw.optimizer.report.data": ("ReportData", "build_report"),
    "perflaw.optimizer.report.writer": ("write_report",),
})
