"""The package version, in a module of its own so that every module can name it without
importing the package's `__init__` (which would make each of them part of an import cycle)."""

__version__ = "0.1.0"
