"""Per-frame processing shared by the thermal drivers: FFC flags, blackbody, emissivity, spot/ROI.

Order matters: the blackbody fit corrects the *sensor* (offset/gain of apparent temperature,
the reference being a near-perfect emitter), then the emissivity/reflected-temperature step
turns apparent into object temperature. Frames frozen during a flat-field correction (FFC) —
reported by Lepton telemetry, or seen as bit-identical consecutive frames, which a live
microbolometer never produces — are flagged ``meta["ffc"] = True`` and ``meta["measurable"] =
False``, as are the ``ffc_settle_frames`` that follow (readings jump after an FFC).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .options import Option
from .radiometry import (
    BlackbodyReference,
    BlackbodyTracker,
    check_roi,
    object_temperature,
    roi_stats,
    spot_meter,
)

#: Options every thermal source accepts.
THERMAL_OPTIONS: tuple[Option, ...] = (
    Option("emissivity", "float", 1.0, "object emissivity (0.98 for skin; 1 = report apparent temperature)"),
    Option("reflected_c", "float", 20.0, "reflected (surroundings) temperature in °C"),
    Option("blackbody", "roi", None, "reference source ROI x,y,w,h (offset correction)"),
    Option("blackbody_c", "float", None, "reference source set point in °C"),
    Option("blackbody2", "roi", None, "second reference ROI x,y,w,h (adds gain correction)"),
    Option("blackbody2_c", "float", None, "second reference set point in °C"),
    Option("blackbody_smoothing", "float", 0.2, "weight of each new blackbody fit (1 = none)"),
    Option("blackbody_max_std_c", "float", 0.5, "reference ROI std above this = occluded, fit held"),
    Option("spot_size", "int", 4, "spot-meter size in pixels at the frame centre (0 = off)", minimum=0),
    Option("roi", "roi", None, "region x,y,w,h whose statistics go into meta['roi_stats']"),
    Option("ffc_settle_frames", "int", 3, "frames after an FFC still flagged not measurable", minimum=0),
)


def references_from_options(options: dict[str, Any], name: str) -> list[BlackbodyReference]:
    """The blackbody references the options describe (0, 1 or 2); ConfigError on half-given pairs."""
    refs: list[BlackbodyReference] = []
    for roi_key, temp_key in (("blackbody", "blackbody_c"), ("blackbody2", "blackbody2_c")):
        roi, temp = options.get(roi_key), options.get(temp_key)
        if (roi is None) != (temp is None):
            raise ConfigError(f"source {name!r}: options {roi_key} and {temp_key} must be given together")
        if roi is not None:
            refs.append(BlackbodyReference(tuple(roi), float(temp)))
    if len(refs) == 1 and options.get("blackbody") is None:
        raise ConfigError(f"source {name!r}: blackbody2 needs blackbody as well")
    return refs


class ThermalProcessor:
    """Turns a float32 °C frame into a corrected one and fills its meta (see module doc)."""

    def __init__(
        self,
        options: dict[str, Any],
        name: str,
        count: Callable[[str], None],
        references: list[BlackbodyReference] | None = None,
    ) -> None:
        self.name = name
        self._count = count
        self.emissivity = float(options.get("emissivity", 1.0))
        if not 0.0 < self.emissivity <= 1.0:
            raise ConfigError(f"source {name!r}: emissivity must be in (0, 1], got {self.emissivity}")
        self.reflected_c = float(options.get("reflected_c", 20.0))
        refs = references if references is not None else references_from_options(options, name)
        self.tracker = (
            BlackbodyTracker(
                refs, float(options["blackbody_smoothing"]), float(options["blackbody_max_std_c"])
            )
            if refs
            else None
        )
        self.spot_size = int(options.get("spot_size", 4))
        self.roi = options.get("roi")
        self.settle = int(options.get("ffc_settle_frames", 3))
        self._prev_raw: np.ndarray | None = None
        self._in_ffc = False
        self._settle_left = 0
        self._checked_shape: tuple[int, ...] | None = None

    def _check_shapes(self, shape: tuple[int, ...]) -> None:
        if self._checked_shape == shape:
            return
        if self.tracker is not None:
            for i, ref in enumerate(self.tracker.references):
                check_roi(ref.roi, shape, f"source {self.name!r} blackbody reference {i}")
        if self.roi is not None:
            check_roi(self.roi, shape, f"source {self.name!r} roi")
        self._checked_shape = shape

    def process(
        self, celsius: np.ndarray, t_ns: int, raw: np.ndarray | None = None, ffc_state: str | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Correct ``celsius`` (modified in place when possible) and return it with its meta.

        Args:
            celsius: float32 apparent temperature from the sensor.
            t_ns: capture time (for blackbody drift per minute).
            raw: the sensor's raw array, compared with the previous one to spot frozen FFC frames.
            ffc_state: ``never|imminent|in_progress|complete`` from device telemetry, if any.
        """
        self._check_shapes(celsius.shape)
        meta: dict[str, Any] = {}
        probe = raw if raw is not None else celsius
        frozen = self._prev_raw is not None and np.array_equal(probe, self._prev_raw)
        self._prev_raw = probe
        in_ffc = frozen or ffc_state == "in_progress"
        if in_ffc and not self._in_ffc:
            self._count("ffc_events")
        self._in_ffc = in_ffc
        settling = False
        if in_ffc:
            self._settle_left = self.settle
        elif self._settle_left > 0:
            settling = True
            self._settle_left -= 1
        meta["ffc"] = bool(in_ffc)
        meta["ffc_state"] = ffc_state if ffc_state is not None else ("frozen" if frozen else "live")
        meta["measurable"] = not in_ffc and not settling
        if self.tracker is not None and not in_ffc:
            fit, bb_meta = self.tracker.update(celsius, t_ns)
            if fit.ok:
                celsius = fit.apply(celsius, out=celsius)
            meta["blackbody"] = bb_meta
            if not bb_meta["ok"]:
                meta["measurable"] = False
        elif self.tracker is not None and self.tracker.fit is not None:
            celsius = self.tracker.fit.apply(celsius, out=celsius)
            meta["blackbody"] = dict(self.tracker.fit.as_meta(), held=True)
        if self.emissivity != 1.0:
            celsius = object_temperature(celsius, self.emissivity, self.reflected_c)
        meta["emissivity"] = self.emissivity
        meta["reflected_c"] = self.reflected_c
        if self.spot_size:
            meta["spot"] = spot_meter(celsius, size=self.spot_size)
        if self.roi is not None:
            meta["roi_stats"] = roi_stats(celsius, self.roi)
        return celsius, meta
