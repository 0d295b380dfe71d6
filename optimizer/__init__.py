"""perflaw's optimizer layer: what a run costs and which run to choose, scenarios, reports and the CLI.

Installed as ``perflaw.optimizer``. Subpackages by job, imports one way:
``cli`` → ``api`` → ``report`` / ``scenario`` → ``search`` → ``cost`` → ``perflaw.law``.
"""
