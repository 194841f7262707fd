"""Every dataset layout by name: ``parse("folders:/data/faces")`` → a validated :class:`DataSet`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from biogate.errors import ConfigError

from . import folders, lfw_pairs, pad_folders, palm, thermal, widerface
from .base import DataSet


@dataclass(frozen=True)
class Layout:
    """One ``--data`` layout: its name, a one-line description, and its parser ``load(arg, spec)``."""

    kind: str
    summary: str
    load: Callable[[str, str], DataSet]
    builtin: bool = False


LAYOUTS: dict[str, Layout] = {
    layout.kind: layout
    for layout in (
        Layout(
            "widerface",
            "WIDER FACE: WIDER_{train,val}/images/, wider_face_split/*_bbx_gt.txt",
            widerface.load_widerface,
        ),
        Layout(
            "folders",
            "one sub-folder of face images per identity: DIR/<identity>/<image>",
            folders.load_folders,
        ),
        Layout(
            "lfw-pairs",
            "LFW pairs.txt protocol + DIR/<name>/<name>_NNNN.jpg (verification)",
            lfw_pairs.load_lfw_pairs,
        ),
        Layout(
            "pad-folders",
            "DIR/genuine/<identity>/, DIR/attack/<species>/<identity>/ (PAD)",
            pad_folders.load_pad_folders,
        ),
        Layout(
            "thermal",
            "DIR/thermal/<identity>/*.png|npy + thermal/labels.csv (file,core_c[,ambient_c])",
            thermal.load_thermal,
        ),
        Layout(
            "palm-dicom",
            "DICOM export folder + labels.csv (id,label,subject[,kind]), optional hr/",
            palm.load_palm_dicom,
        ),
        Layout(
            "composites",
            "builtin: composites of the offline faces, composites[:N] (the shipped detector's data)",
            widerface.load_composites,
            True,
        ),
        Layout(
            "portraits",
            "builtin: the offline real faces by person (15 faces, 14 people)",
            folders.load_portraits,
            True,
        ),
        Layout(
            "thermal-sim",
            "builtin: generated radiometric faces, thermal-sim[:IDENTITIESxCAPTURES]",
            thermal.load_thermal_sim,
            True,
        ),
        Layout(
            "palm-sim", "builtin: simulated palm radiographs, palm-sim[:DIVISOR]", palm.load_palm_sim, True
        ),
    )
}


def parse(spec: str, accepted: tuple[str, ...] | None = None, what: str = "--data") -> DataSet:
    """Parse ``KIND:DIR`` (or a builtin ``KIND[:ARG]``); ``accepted`` limits the kinds allowed."""
    kind, _, arg = str(spec).partition(":")
    allowed = accepted if accepted is not None else tuple(LAYOUTS)
    if kind not in LAYOUTS or kind not in allowed:
        raise ConfigError(
            f"{what} {spec!r}: unknown or unsupported layout {kind!r}; choose from {', '.join(allowed)}"
        )
    return LAYOUTS[kind].load(arg, str(spec))


def describe(kinds: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """``(kind, summary)`` of every layout (or of ``kinds``), for ``biogate train --help``."""
    return [(k, LAYOUTS[k].summary) for k in (kinds or tuple(LAYOUTS))]
