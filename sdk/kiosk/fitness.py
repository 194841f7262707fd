"""The kiosk refuses to start on a model that is not fit for the decision it takes part in.

:func:`biogate.kiosk.app.build_stages` loads every model with ``require_fit=False`` and registers it
here with whether it *decides* under the configured policy — the detector and the embedder always;
the RGB liveness model only when ``policy.require_liveness`` and ``liveness_source`` is ``rgb`` or
``both``; a thermal bundle whenever thermal is enabled (its temperature raises the fever alarm).
:meth:`FitnessGate.check` then raises one :class:`~biogate.errors.UnfitModelError` naming the bundle,
the metric, its value and the budget, unless ``[models] allow_unfit`` names the model (by its
``[models]`` key — ``detector``, ``embedder``, ``liveness``, ``thermal`` — or its bundle name, e.g.
``face_liveness``).  An allowed unfit decider, an unfit model that only logs, and a bundle accepted
by ``BIOGATE_ALLOW_UNSIGNED`` are reported by :meth:`FitnessGate.notices` (the start-up banner) and
:meth:`FitnessGate.audit_fields` (added to every audit record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..bundle.fitness import Fitness
from ..errors import ConfigError, UnfitModelError


@dataclass
class ModelUse:
    """One loaded model, the ``[models]`` key that configured it, and whether it decides."""

    key: str
    model: Any
    decides: bool
    why: str = ""  # for a model that does not decide: why not (shown in the banner)

    def verdicts(self) -> list[Fitness]:
        return list(getattr(self.model, "verdicts", []))

    def names(self) -> set[str]:
        return {self.key, *(v.bundle for v in getattr(self.model, "verdicts", []))}


def check_names(value: Any, key: str, where: str) -> list[str]:
    """A TOML list of strings (``allow_unfit``, ``trusted_keys``), or one ConfigError naming the key."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} [models]: {key} must be a list of non-empty strings, got {value!r}")
    return list(value)


class FitnessGate:
    """Collects the kiosk's models and decides whether it may start (module docstring)."""

    def __init__(self, allow_unfit: Sequence[str] = (), where: str = "kiosk config") -> None:
        self.allow = check_names(list(allow_unfit), "allow_unfit", where)
        self.where = where
        self.uses: list[ModelUse] = []

    def add(self, use: ModelUse) -> None:
        self.uses.append(use)

    def _allowed(self, use: ModelUse, verdict: Fitness) -> bool:
        return use.key in self.allow or verdict.bundle in self.allow

    def check(self) -> None:
        """Raise for an unfit decider no override names, or an override that names no model."""
        known = set().union(*(u.names() for u in self.uses)) if self.uses else set()
        stray = [name for name in self.allow if name not in known]
        if stray:
            raise ConfigError(
                f"{self.where} [models]: allow_unfit names {', '.join(map(repr, stray))}, which is no "
                f"loaded model (loaded: {', '.join(sorted(known)) or 'none'})"
            )
        for use in self.uses:
            for verdict in use.verdicts():
                if use.decides and not verdict.fit and not self._allowed(use, verdict):
                    raise UnfitModelError(
                        f"{verdict.message()} — the kiosk refuses to start: the [models] {use.key} model "
                        f"takes part in every decision (override, with a banner and an audit mark on "
                        f"every decision: [models] allow_unfit = [{verdict.bundle!r}])"
                    )

    def unfit_deciders(self) -> list[Fitness]:
        return [v for u in self.uses if u.decides for v in u.verdicts() if not v.fit]

    def warnings(self) -> list[str]:
        """Banner lines for the overrides in force: allowed unfit deciders and unsigned bundles."""
        lines = [
            f"UNFIT MODEL DECIDES (allowed by [models] allow_unfit): {v.message()}"
            for v in self.unfit_deciders()
        ]
        return lines + [f"UNSIGNED BUNDLE IN USE: {reason}" for reason in self._unsigned()]

    def notes(self) -> list[str]:
        """Banner lines for unfit models that only log (they decide nothing here)."""
        lines = []
        for use in self.uses:
            if not use.decides:
                unfit = [v for v in use.verdicts() if not v.fit]
                lines += [f"note: {v.message()}; it does not decide here ({use.why})" for v in unfit]
        return lines

    def notices(self) -> list[str]:
        """Every start-up banner line: :meth:`warnings`, then :meth:`notes`."""
        return self.warnings() + self.notes()

    def _unsigned(self) -> list[str]:
        out = []
        for use in self.uses:
            for bundle in getattr(use.model, "bundles", []):
                signer = getattr(bundle, "signer", None)
                if signer is not None and signer.override:
                    out.append(signer.override)
        return out

    def audit_fields(self) -> dict[str, Any]:
        """Fields every audit record carries while an override is in force (empty otherwise)."""
        fields: dict[str, Any] = {}
        unfit = self.unfit_deciders()
        if unfit:
            fields["unfit_models"] = [v.to_json() for v in unfit]
        unsigned = self._unsigned()
        if unsigned:
            fields["unsigned_bundles"] = unsigned
        return fields


__all__ = ["FitnessGate", "ModelUse", "check_names"]
