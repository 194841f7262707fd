"""One way to load a device model from its bundle: :class:`BundleModel` and :func:`load_bundle`.

Every ``from_bundle`` of :mod:`biogate.models` goes through :func:`load_bundle`, which

1. opens the bundle — signature against the trust set, manifest structure and thresholds, every
   file's size and sha256, no links (:func:`biogate.bundle.open_bundle`);
2. checks the bundle is of a task and seed the model class runs (a swapped-in bundle of another
   kind is refused, naming both);
3. judges its fitness for the class's deciding ``ROLE`` (:mod:`biogate.bundle.fitness`) and, unless
   ``require_fit=False``, refuses an unfit one with :class:`~biogate.errors.UnfitModelError`;
4. loads the engine (:func:`biogate.engine.load`) with the engine options.

A model class declares what it runs and reads its thresholds from the verified bundle::

    class PalmLiveness(BundleModel):
        ROLE = "liveness"              # or None for a model that decides nothing (SR, refine)
        TASKS = ("liveness",)          # manifest "task" values it accepts
        MODEL_OPTIONS = ("threshold",)  # from_bundle keywords for the model, not the engine

        @classmethod
        def _from_loaded(cls, loaded, threshold=None):
            return cls(loaded.engine, loaded.bundle.threshold("live") if threshold is None else threshold)

    live = PalmLiveness.from_bundle("bundles/palm_liveness", threads=1)
    live.bundle, live.verdicts                 # the verified Bundle, [Fitness] for ROLE

``from_bundle`` keywords: ``require_fit`` (default True: fail closed), ``trusted_keys`` (default
the device's trust set, :class:`biogate.bundle.TrustStore`), the class's ``MODEL_OPTIONS``, and
everything else goes to :func:`biogate.engine.load` (which names an unknown option).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..bundle import Bundle, Trusted, open_bundle
from ..bundle.fitness import Fitness
from ..errors import BundleError, UnfitModelError


@dataclass
class LoadedBundle:
    """A verified bundle, its engine, and its fitness verdict (``None`` for a non-deciding model)."""

    bundle: Bundle
    engine: Any
    fitness: Fitness | None = None


def load_bundle(
    bundle: str | Path | Bundle,
    *,
    role: str | None = None,
    tasks: tuple[str, ...] = (),
    seeds: tuple[str, ...] = (),
    require_fit: bool = True,
    trusted_keys: Trusted = None,
    **engine_options: Any,
) -> LoadedBundle:
    """Verify ``bundle``, check its task and fitness for ``role``, and load its engine (module docstring)."""
    from .. import engine as engine_mod

    opened = open_bundle(bundle, trusted_keys=trusted_keys)
    if tasks and opened.task not in tasks:
        raise BundleError(
            f"bundle {opened.root} is a {opened.task!r} model ({opened.name}); "
            f"this model needs task {' or '.join(repr(t) for t in tasks)}"
        )
    seed = str(opened.manifest["seed"])
    if seeds and seed not in seeds:
        raise BundleError(
            f"bundle {opened.root} ({opened.name}) implements seed {seed}; this model runs seed "
            f"{' or '.join(seeds)}"
        )
    verdict = opened.fitness(role) if role else None
    if verdict is not None and require_fit and not verdict.fit:
        raise UnfitModelError(verdict.message())
    return LoadedBundle(opened, engine_mod.load(opened, **engine_options), verdict)


class BundleModel:
    """Base of every device model built from bundles (see the module docstring)."""

    #: The part this model plays in an access decision (a :data:`biogate.bundle.fitness.ROLES` entry).
    ROLE: ClassVar[str | None] = None
    #: Manifest ``task`` values the model runs (empty: any).
    TASKS: ClassVar[tuple[str, ...]] = ()
    #: Manifest ``seed`` values (which document it implements) the model runs (empty: any).
    SEEDS: ClassVar[tuple[str, ...]] = ()
    #: ``from_bundle`` keywords meant for :meth:`_from_loaded`, not for the engine.
    MODEL_OPTIONS: ClassVar[tuple[str, ...]] = ()

    bundle: Bundle | None = None
    #: Every bundle the model was loaded from (the MTCNN cascade has three).
    bundles: ClassVar[list[Bundle]] = []  # set per instance by attach()
    #: Fitness verdicts of the bundles this model was loaded from (empty when ``ROLE`` is None).
    verdicts: ClassVar[list[Fitness]] = []  # set per instance by attach()

    @classmethod
    def split_options(cls, options: dict) -> tuple[dict, dict]:
        """``(model options, engine options)`` of ``from_bundle``'s keywords."""
        model = {k: options[k] for k in cls.MODEL_OPTIONS if k in options}
        return model, {k: v for k, v in options.items() if k not in model}

    @classmethod
    def load(cls, bundle: str | Path | Bundle, **options: Any) -> LoadedBundle:
        """:func:`load_bundle` with this class's ``ROLE``, ``TASKS`` and ``SEEDS``."""
        return load_bundle(bundle, role=cls.ROLE, tasks=cls.TASKS, seeds=cls.SEEDS, **options)

    @classmethod
    def from_bundle(
        cls,
        bundle: str | Path | Bundle,
        *,
        require_fit: bool = True,
        trusted_keys: Trusted = None,
        **options: Any,
    ) -> Any:
        """Verify and load ``bundle`` into this model (module docstring)."""
        model_options, engine_options = cls.split_options(options)
        loaded = cls.load(bundle, require_fit=require_fit, trusted_keys=trusted_keys, **engine_options)
        model = cls._from_loaded(loaded, **model_options)
        model.attach([loaded])
        return model

    @classmethod
    def _from_loaded(cls, loaded: LoadedBundle, **options: Any) -> Any:
        """Build the model from a verified bundle and its engine; subclasses read thresholds here."""
        return cls(loaded.engine, **options)  # type: ignore[call-arg]

    def attach(self, loaded: list[LoadedBundle]) -> None:
        """Record the bundles (first one as ``bundle``) and their fitness verdicts on the model."""
        self.bundle = loaded[0].bundle
        self.bundles = [item.bundle for item in loaded]
        self.verdicts = [item.fitness for item in loaded if item.fitness is not None]


__all__ = ["BundleModel", "LoadedBundle", "load_bundle"]
