"""Assemble the kiosk from a :class:`KioskConfig`: source, models, gallery, gate, audit, pipeline."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import ConfigError
from ..frame import Frame
from ..pipeline.runner import Pipeline
from ..pipeline.stage import Stage
from .audit import AuditLog
from .config import KioskConfig
from .decide import DecisionRecord, DecisionSink
from .findings import Findings
from .fitness import FitnessGate, ModelUse, check_names
from .policy import DecisionPolicy
from .stages import (
    DetectStage,
    EmbedStage,
    LivenessStage,
    MatchStage,
    SharpnessGate,
    SuperResolveStage,
    ThermalStage,
    TrackStage,
)

log = logging.getLogger(__name__)


class Kiosk:
    """A running access-control kiosk: ``start()``, ``stop()``, ``stats()``; a context manager."""

    def __init__(
        self,
        pipeline: Pipeline,
        sink: DecisionSink,
        closers: list[Callable[[], Any]],
        notices: list[str] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self._closers = closers
        #: Start-up banner lines: what the kiosk decides with, and every override in force.
        self.notices = list(notices or [])
        self.fleet: Any = None  # the fleet sync agent when kiosk.toml has [fleet] enabled

    def start(self) -> Kiosk:
        if self.fleet is not None:
            self.fleet.start()
        self.pipeline.start()
        return self

    def stop(self) -> None:
        """Stop the pipeline first (no more commands), then close the gate link, gallery and log."""
        self.pipeline.stop()
        for close in reversed(self._closers):
            try:
                close()
            except Exception as exc:  # keep closing the rest
                log.warning("while stopping the kiosk: %s", exc)

    def wait(self, timeout: float | None = None) -> bool:
        return self.pipeline.wait(timeout)

    def stats(self) -> dict[str, Any]:
        stats = self.pipeline.stats()
        stats["capture_to_gate"] = self.sink.capture_to_gate.summary()
        stats["decisions"] = len(self.sink.records)
        if self.fleet is not None:
            stats["fleet"] = self.fleet.status()
        return stats

    def __enter__(self) -> Kiosk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _engine_options(config: KioskConfig) -> dict[str, Any]:
    """Engine and bundle-loading options: threads, and the trust set (``[models] trusted_keys``)."""
    m = config.models
    keys = check_names(m.trusted_keys, "trusted_keys", "kiosk config")
    # require_fit=False: the FitnessGate decides, knowing which models decide and the overrides.
    opts: dict[str, Any] = {"threads": m.threads, "require_fit": False}
    if keys:
        opts["trusted_keys"] = [config.resolve(k) for k in keys]
    return opts


def _check_liveness_sources(config: KioskConfig) -> bool:
    """Whether the RGB liveness model decides; a liveness policy that cannot be met is an error."""
    policy, m = config.policy, config.models
    if not policy.require_liveness:
        return False
    source = policy.liveness_source
    if source in ("thermal", "both") and not config.thermal.enabled:
        raise ConfigError(
            f"{config.name}: policy.require_liveness with liveness_source = {source!r} needs [thermal] "
            "enabled = true (the thermal "
            "skin check stops printed photos and screens); an RGB-only kiosk needs liveness_source = "
            "'rgb' and a liveness model fit for it (docs/security.md)"
        )
    if source in ("rgb", "both") and not m.liveness:
        raise ConfigError(
            f"{config.name}: policy.require_liveness with liveness_source = {source!r} needs [models] "
            "liveness (the RGB model)"
        )
    return source in ("rgb", "both")


def build_stages(
    config: KioskConfig,
    gallery: Any,
    thermal_source: Any = None,
    notices: list[str] | None = None,
    gate: FitnessGate | None = None,
) -> list[Stage]:
    """The stage list for ``config`` (models loaded from their bundles).

    Lines for the start-up banner (the match threshold in force, overrides) go to ``notices``.
    Every model goes through :func:`biogate.models.base.load_bundle` (signature, hashes,
    thresholds); ``gate`` (a :class:`~biogate.kiosk.fitness.FitnessGate`, made from
    ``[models] allow_unfit`` when not given) refuses an unfit model that decides.
    """
    from ..models import FaceChain, FaceLiveness

    m = config.models
    if not m.detector or not m.embedder:
        raise ConfigError("kiosk config [models]: detector and embedder bundles are required")
    rgb_decides = _check_liveness_sources(config)
    gate = gate if gate is not None else FitnessGate(m.allow_unfit)
    if m.refine and not m.super_resolution:
        raise ConfigError("kiosk config [models]: refine needs super_resolution (it refines the SR output)")
    opts = _engine_options(config)
    sel = config.selection
    chain = FaceChain.from_bundles(
        config.resolve(m.detector),
        config.resolve(m.embedder),
        config.resolve(m.super_resolution) if m.super_resolution else None,
        config.resolve(m.refine) if m.refine else None,
        min_face_px=m.min_face_px,
        face_detector=m.face_detector,
        rotate=m.rotate,
        min_face=m.min_face_px,
        **opts,
    )
    gate.add(ModelUse("detector", chain.detector, True))
    gate.add(ModelUse("embedder", chain.embedder, True))
    stages: list[Stage] = [
        SharpnessGate(sel.every, sel.metric, sel.window_s, sel.keep_ratio, sel.min_score),
        DetectStage(chain),
        TrackStage(),
    ]
    if m.liveness:
        liveness = FaceLiveness.from_bundle(config.resolve(m.liveness), **opts)
        why = (
            f"policy.liveness_source = {config.policy.liveness_source!r}: its score is only logged"
            if config.policy.require_liveness
            else "policy.require_liveness = false: its score is only logged"
        )
        gate.add(ModelUse("liveness", liveness, rgb_decides, why))
        stages.append(LivenessStage(liveness))
    if chain.resolver is not None:
        stages.append(SuperResolveStage(chain))
    threshold, notice = config.gallery.match_threshold(
        chain.thresholds.get("cosine"), config.resolve(m.embedder), f"{config.name} [gallery]"
    )
    if notices is not None:
        notices.append(notice)
    if notice.startswith("WEAK"):
        log.warning("%s", notice)
    stages += [EmbedStage(chain), MatchStage(gallery, threshold)]
    if config.thermal.enabled:
        from ..models.thermal import ThermalConfig as ThermalModelConfig
        from ..models.thermal import ThermalFace

        t = config.thermal
        bb = (
            {}
            if t.blackbody_roi is None
            else {"blackbody_roi": tuple(t.blackbody_roi), "blackbody_c": t.blackbody_c}
        )
        tcfg = ThermalModelConfig(alarm_c=config.policy.fever_c, **bb)
        if m.thermal:  # its temperature raises the fever alarm: it decides
            thermal = ThermalFace.from_bundle(config.resolve(m.thermal), config=tcfg, **opts)
            gate.add(ModelUse("thermal", thermal, True))
        else:  # the model-free canthus estimate: physics, no bundle to vouch for
            thermal = ThermalFace(config=tcfg)
        h = None if config.thermal.homography is None else np.asarray(config.thermal.homography, np.float64)
        stages.append(ThermalStage(thermal_source, thermal, h, config.thermal.max_age_ms))
    gate.check()
    return stages


def open_gate(config: KioskConfig, closers: list[Callable[[], Any]]) -> Any:
    """A connected :class:`GateClient` (starting the firmware simulator for ``port = "sim"``)."""
    if not config.gate.enabled:
        return None
    from ..firmware_bridge import GateClient
    from ..firmware_bridge.keys import load_key

    key = load_key(config.resolve(config.gate.key_file) or None)
    port = config.gate.port
    if port == "sim":
        from ..firmware_bridge.simulator import GateSimulator

        sim = GateSimulator(key, trace=True).start()
        closers.append(sim.stop)
        port = sim.port
    client = GateClient(port, key, heartbeat_s=config.gate.heartbeat_s)
    closers.append(client.close)
    return client


#: Banner line (and log warning) of a kiosk configured with ``policy.require_liveness = false``.
NO_LIVENESS_NOTICE = (
    "NO PRESENTATION-ATTACK CHECK (policy.require_liveness = false): a printed photo or a screen "
    "showing an enrolled person opens the door; every audit record says liveness_check = off"
)


def build_kiosk(
    config: KioskConfig,
    *,
    source: Iterable[Frame] | None = None,
    thermal_source: Any = None,
    gate: Any = None,
    on_decision: Callable[[DecisionRecord], None] | None = None,
) -> Kiosk:
    """Open everything ``config`` names and wire the pipeline; nothing runs until ``start()``.

    ``source``, ``thermal_source`` and ``gate`` override the configured ones (demos, tests).
    Whatever was opened is closed again if a later step fails.
    """
    from .. import open_source
    from ..gallery import Gallery, GalleryKey

    closers: list[Callable[[], Any]] = []
    notices: list[str] = []
    try:
        gallery_key = GalleryKey.resolve(config.resolve(config.gallery.key_file) or None)
        gallery = Gallery(config.resolve(config.gallery.path), gallery_key, create=config.fleet.enabled)
        closers.append(gallery.close)
        agent, match_gallery = None, gallery
        if config.fleet.enabled:  # the fleet server is the gallery of record (docs/fleet.md)
            from ..fleet.kiosk import agent_for_kiosk

            agent, match_gallery = agent_for_kiosk(config, gallery)
            closers.append(agent.stop)
        if config.thermal.enabled and thermal_source is None:
            thermal_source = open_source(config.thermal.uri, **config.thermal.options)
            closers.append(thermal_source.close)
        fitness = FitnessGate(config.models.allow_unfit, config.name)
        stages = build_stages(config, match_gallery, thermal_source, notices, fitness)
        if gate is None:
            gate = open_gate(config, closers)
        audit = AuditLog(config.resolve(config.audit.path), config.audit.save_faces)
        closers.append(audit.close)
        if agent is not None:
            audit.listeners.append(agent.spool_record)
        audit_extra = fitness.audit_fields()
        if not config.policy.require_liveness:  # the one explicit choice that opens for a print
            notices.append(NO_LIVENESS_NOTICE)
            audit_extra["liveness_check"] = "off"
        sink = DecisionSink(DecisionPolicy(config.policy), gate, audit, on_decision, audit_extra=audit_extra)
        if source is None:
            source = open_source(config.source.uri, **config.source.options)
        pipeline = Pipeline(source, stages, sink, queue_size=1, results=Findings)
    except BaseException:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()
        raise
    for line in fitness.warnings() + [n for n in notices if n == NO_LIVENESS_NOTICE]:
        log.warning("%s", line)
    for line in fitness.notes():
        log.info("%s", line)
    kiosk = Kiosk(pipeline, sink, closers, notices + fitness.notices())
    kiosk.fleet = agent
    return kiosk


__all__ = ["Kiosk", "build_kiosk", "build_stages", "open_gate"]
