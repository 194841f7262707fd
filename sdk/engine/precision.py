"""Which precision to run: the bundle's measured evidence decides ``precision="auto"``.

INT8 is chosen on CPU only when the bundle's accuracy gate passed **and** its INT8 latency,
measured in the same export run, is lower than FP32's — so a depthwise net whose INT8 is slower
on x86, or a model whose metric collapsed, runs FP32.  An explicit ``precision="int8"`` on a
bundle whose gate failed is refused unless ``allow_unfit=True``.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..errors import ConfigError, EngineError

PRECISIONS = ("auto", "fp32", "fp16", "int8")
#: INT8 must beat FP32 by at least this factor to be picked (noise margin for the measurement).
MIN_SPEEDUP = 1.05


def check_precision(precision: str) -> str:
    """Normalise and validate a precision name."""
    value = str(precision).lower()
    if value not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    return value


def int8_choice(bundle: Bundle, device: str = "cpu") -> dict[str, Any]:
    """The INT8 file for ``device`` (``cpu`` or ``gpu``) with its gate verdict.

    On CPU the exporter may ship ``model.int8.cpu.onnx`` (U8S8, ONNX Runtime's fast x86 format)
    next to the TensorRT-ready symmetric ``model.int8.onnx``; ``manifest["int8"]["cpu"]`` names it.
    """
    verdict = bundle.int8
    cpu = verdict.get("cpu") if device == "cpu" else None
    if cpu:
        return {
            "file": str(cpu.get("file", "model.int8.onnx")),
            "fit": bool(cpu.get("fit")),
            "reason": str(cpu.get("reason", "")),
        }
    return {
        "file": "model.int8.onnx",
        "fit": bool(verdict.get("fit")),
        "reason": str(verdict.get("reason", "")),
    }


def int8_usable(bundle: Bundle, device: str = "cpu") -> tuple[bool, str]:
    """(usable, why): the INT8 file for ``device`` exists and its accuracy gate passed."""
    choice = int8_choice(bundle, device)
    gate = f"INT8 failed its accuracy gate ({choice['reason'] or 'no verdict'})"
    if not bundle.has(choice["file"]):  # an unfit CPU file is left out of the bundle: say why
        return False, f"the bundle has no {choice['file']}" + ("" if choice["fit"] else f": {gate}")
    if not choice["fit"]:
        return False, gate
    return True, choice["reason"] or "accuracy gate passed"


def auto_cpu_precision(bundle: Bundle) -> tuple[str, str]:
    """(precision, reason) for ONNX Runtime on CPU."""
    ok, why = int8_usable(bundle)
    if not ok:
        return "fp32", why
    fp32, int8 = bundle.latency_ms("fp32"), bundle.latency_ms("int8")
    if fp32 is None or int8 is None:
        return "fp32", "the bundle has no measured CPU latency for both precisions"
    if int8 * MIN_SPEEDUP > fp32:  # the exporter's ``faster_on_cpu`` uses the same margin
        return "fp32", f"INT8 is not faster on CPU ({int8:.3g} ms vs FP32 {fp32:.3g} ms)"
    return (
        "int8",
        f"INT8 passed its gate and is {fp32 / int8:.2f}x faster on CPU ({int8:.3g} vs {fp32:.3g} ms)",
    )


def require_int8(bundle: Bundle, allow_unfit: bool, device: str = "cpu") -> None:
    """Refuse an explicit INT8 request the bundle cannot honour."""
    choice = int8_choice(bundle, device)
    gate = f"INT8 failed its accuracy gate ({choice['reason'] or '?'})"
    if not bundle.has(choice["file"]):  # an unfit CPU file is left out of the bundle: say why
        why = "" if choice["fit"] else f": {gate}"
        missing = f"precision 'int8' requested but it has no {choice['file']}{why}"
        raise EngineError(f"bundle {bundle.root}: {missing}")
    if not choice["fit"] and not allow_unfit:
        raise EngineError(f"bundle {bundle.root}: {gate}; pass allow_unfit=True to run it anyway")
