"""Dataset layouts users already have (``--data KIND:DIR``), validated and split by identity.

Re-exports :func:`parse`, :func:`describe`, :data:`LAYOUTS` and the :mod:`.base` types.
"""

from __future__ import annotations

from .base import DataSet, Item, Split, identity_folds
from .registry import LAYOUTS, Layout, describe, parse

__all__ = ["LAYOUTS", "DataSet", "Item", "Layout", "Split", "describe", "identity_folds", "parse"]
