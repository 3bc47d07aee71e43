"""Model families and their parts: `registry` (families by name), `outputs` (the contract every
classifier keeps), `layers` (attention layers usable on their own), `families/` (one module per
family). Importing this package imports no torch; the registry loads the families on first use.
"""

from __future__ import annotations

from .registry import (
    Family,
    all_families,
    build_model,
    family_names,
    get_family,
    model_config,
    register,
    unregister,
)

__all__ = [
    "Family",
    "build_model",
    "all_families",
    "family_names",
    "get_family",
    "model_config",
    "register",
    "unregister",
]
