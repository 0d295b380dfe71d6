"""The installed perflaw's version, from its package metadata (``perflaw.__version__``).

Reading package metadata imports ``importlib.metadata`` (a hundredth of a second), so this module is
imported only when the version is asked for: by ``perflaw.__version__`` or ``perflaw --version``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perflaw")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "unknown"
