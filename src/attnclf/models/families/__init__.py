"""The built-in model families, one module each; every module here registers its family when
the registry first loads them (see `models/registry.py`)."""
