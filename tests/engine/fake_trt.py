"""Faithful fakes of the ``tensorrt`` and ``pycuda`` Python APIs (neither installs without a GPU).

They implement exactly the calls biogate makes, with TensorRT's semantics where it matters:

* ``OnnxParser.parse_from_file`` really reads the ONNX graph (inputs with -1 dynamic dims,
  parser errors for a non-ONNX file);
* ``build_serialized_network`` refuses a dynamic network without an optimisation profile (the
  real "Network has dynamic or shape inputs, but no optimization profile has been defined"),
  asks an INT8 calibrator for its cache first and only then for batches, then writes the cache;
* serialized engines carry a version tag; ``Runtime.deserialize_cuda_engine`` returns ``None``
  for an engine from another TensorRT version, as the real runtime does;
* execution contexts compute outputs by running the parsed ONNX file on ONNX Runtime, reading
  and writing fake device memory addressed by integer pointers (pycuda fake).
"""

from __future__ import annotations

import enum
import json
import sys
import types
from typing import Any, ClassVar

import numpy as np

# ---------------------------------------------------------------------------- pycuda fake
MEMORY: dict[int, np.ndarray] = {}
_NEXT = [0x1000]


class DeviceAllocation:
    def __init__(self, nbytes: int) -> None:
        self.ptr = _NEXT[0]
        _NEXT[0] += nbytes + 256
        MEMORY[self.ptr] = np.zeros(nbytes, np.uint8)
        self.freed = False

    def __int__(self) -> int:
        return self.ptr

    def free(self) -> None:
        self.freed = True
        MEMORY.pop(self.ptr, None)


class Stream:
    handle = 7

    def synchronize(self) -> None:
        pass


class Device:
    def __init__(self, index: int) -> None:
        self.index = index

    def name(self) -> str:
        return "Orin (nvgpu)"

    def compute_capability(self) -> tuple[int, int]:
        return (8, 7)


def _memcpy_htod_async(dst: DeviceAllocation, src: np.ndarray, stream: Any = None) -> None:
    raw = np.ascontiguousarray(src).view(np.uint8).ravel()
    MEMORY[int(dst)][: raw.size] = raw


def _memcpy_dtoh_async(dst: np.ndarray, src: DeviceAllocation, stream: Any = None) -> None:
    view = dst.reshape(-1).view(np.uint8)
    view[:] = MEMORY[int(src)][: view.size]


def make_pycuda() -> dict[str, types.ModuleType]:
    pycuda = types.ModuleType("pycuda")
    driver = types.ModuleType("pycuda.driver")
    driver.mem_alloc = DeviceAllocation
    driver.memcpy_htod_async = _memcpy_htod_async
    driver.memcpy_dtoh_async = _memcpy_dtoh_async
    driver.Stream = Stream
    driver.Device = Device
    driver.init = lambda: None
    autoinit = types.ModuleType("pycuda.autoinit")
    pycuda.driver = driver
    pycuda.autoinit = autoinit
    return {"pycuda": pycuda, "pycuda.driver": driver, "pycuda.autoinit": autoinit}


class _CudaError(enum.IntEnum):
    cudaSuccess = 0  # noqa: N815 - the CUDA name


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801 - the cuda-python name
    cudaMemcpyHostToDevice = 1  # noqa: N815
    cudaMemcpyDeviceToHost = 2  # noqa: N815


class _Props:
    name = b"NVIDIA GeForce RTX 3060"
    major, minor = 8, 6


def make_cuda_python() -> dict[str, types.ModuleType]:
    """``cuda.bindings.runtime`` (cuda-python >= 12.6): every call returns ``(err, *values)``."""
    import ctypes

    rt = types.ModuleType("cuda.bindings.runtime")
    ok = _CudaError.cudaSuccess

    def malloc(nbytes: int) -> tuple:
        buf = np.zeros(nbytes, np.uint8)
        MEMORY[buf.ctypes.data] = buf  # device pointer = address of the backing array
        return ok, buf.ctypes.data

    def memcpy(dst: int, src: int, nbytes: int, kind: Any, stream: Any) -> tuple:
        ctypes.memmove(int(dst), int(src), int(nbytes))
        return (ok,)

    rt.cudaSetDevice = lambda device: (ok,)
    rt.cudaStreamCreate = lambda: (ok, 11)
    rt.cudaMalloc = malloc
    rt.cudaMemcpyAsync = memcpy
    rt.cudaMemcpyKind = cudaMemcpyKind
    rt.cudaStreamSynchronize = lambda stream: (ok,)
    rt.cudaFree = lambda ptr: (MEMORY.pop(int(ptr), None), ok)[1:]
    rt.cudaGetDeviceProperties = lambda device: (ok, _Props())
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    cuda.bindings, bindings.runtime = bindings, rt
    return {"cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": rt}


def _read(ptr: int, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return MEMORY[ptr][:n].view(dtype).reshape(shape).copy()


def _write(ptr: int, arr: np.ndarray) -> None:
    raw = np.ascontiguousarray(arr).view(np.uint8).ravel()
    MEMORY[ptr][: raw.size] = raw


# ---------------------------------------------------------------------------- tensorrt fake
class Logger:
    WARNING = 2
    INFO = 3

    def __init__(self, severity: int = 2) -> None:
        self.severity = severity


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0


class MemoryPoolType(enum.Enum):
    WORKSPACE = 0


class BuilderFlag(enum.Enum):
    FP16 = 0
    INT8 = 1
    GPU_FALLBACK = 2


class DeviceType(enum.Enum):
    GPU = 0
    DLA = 1


class TensorIOMode(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3


def nptype(dtype: DataType) -> Any:
    return {
        DataType.FLOAT: np.float32,
        DataType.HALF: np.float16,
        DataType.INT8: np.int8,
        DataType.INT32: np.int32,
    }[dtype]


class _Tensor:
    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        self.name = name
        self.shape = shape


class INetworkDefinition:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.inputs: list[_Tensor] = []
        self.outputs: list[_Tensor] = []
        self.onnx_path: str | None = None

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, i: int) -> _Tensor:
        return self.inputs[i]


class OnnxParser:
    def __init__(self, network: INetworkDefinition, logger: Logger) -> None:
        self.network = network
        self.errors: list[str] = []

    def parse_from_file(self, path: str) -> bool:
        import onnx

        try:
            model = onnx.load(path)
        except Exception as exc:
            self.errors.append(f"ModelImporter: failed to parse {path}: {exc}")
            return False
        inits = {i.name for i in model.graph.initializer}

        def dims(vi: Any) -> tuple[int, ...]:
            return tuple(
                d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim
            )

        self.network.inputs = [_Tensor(i.name, dims(i)) for i in model.graph.input if i.name not in inits]
        self.network.outputs = [_Tensor(o.name, dims(o)) for o in model.graph.output]
        self.network.onnx_path = path
        return True

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    def get_error(self, i: int) -> str:
        return self.errors[i]


class IOptimizationProfile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, name: str, lo: tuple, opt: tuple, hi: tuple) -> None:
        if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)) or min(lo) < 1:
            raise ValueError(f"bad profile for {name}: {lo} {opt} {hi}")
        self.shapes[name] = (tuple(lo), tuple(opt), tuple(hi))


class ITimingCache:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob or b"fake-timing-cache:"

    def serialize(self) -> bytes:
        return self.blob + b"+"


class IBuilderConfig:
    def __init__(self) -> None:
        self.flags: set = set()
        self.pool: dict = {}
        self.int8_calibrator: Any = None
        self.profiles: list[IOptimizationProfile] = []
        self.calibration_profile: IOptimizationProfile | None = None
        self.default_device_type = DeviceType.GPU
        self.DLA_core = -1
        self.timing_cache: ITimingCache | None = None

    def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
        self.pool[pool] = size

    def set_flag(self, flag: BuilderFlag) -> None:
        self.flags.add(flag)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
        self.calibration_profile = profile
        return True

    def create_timing_cache(self, blob: bytes) -> ITimingCache:
        return ITimingCache(blob)

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        self.timing_cache = cache
        return True

    def get_timing_cache(self) -> ITimingCache | None:
        return self.timing_cache


class IInt8EntropyCalibrator2:
    def __init__(self) -> None:
        pass


class Builder:
    fast_int8 = True
    fast_fp16 = True
    builds: ClassVar[list[dict]] = []

    def __init__(self, logger: Logger) -> None:
        self.logger = logger

    @property
    def platform_has_fast_int8(self) -> bool:
        return Builder.fast_int8

    @property
    def platform_has_fast_fp16(self) -> bool:
        return Builder.fast_fp16

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        return INetworkDefinition(flags)

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> bytes | None:
        dynamic = [t.name for t in network.inputs if any(d < 0 for d in t.shape)]
        if dynamic and not config.profiles:
            return None  # "Network has dynamic or shape inputs, but no optimization profile has been defined"
        calib_batches = 0
        calibrator = config.int8_calibrator
        if BuilderFlag.INT8 in config.flags and calibrator is not None:
            cache = calibrator.read_calibration_cache()
            if not cache:
                names = [t.name for t in network.inputs]
                while True:
                    ptrs = calibrator.get_batch(names)
                    if ptrs is None:
                        break
                    calib_batches += 1
                cache = b"TRT-8501-EntropyCalibration2\n"
                calibrator.write_calibration_cache(cache)
        record = {
            "version": __version__,
            "onnx": network.onnx_path,
            "inputs": {t.name: list(t.shape) for t in network.inputs},
            "outputs": {t.name: list(t.shape) for t in network.outputs},
            "flags": sorted(f.name for f in config.flags),
            "profile": {k: list(map(list, v)) for p in config.profiles for k, v in p.shapes.items()},
            "dla": config.DLA_core if config.default_device_type == DeviceType.DLA else None,
            "calib_batches": calib_batches,
            "calibrator_used": calibrator is not None,
        }
        Builder.builds.append(record)
        return json.dumps(record).encode()


class IExecutionContext:
    def __init__(self, engine: ICudaEngine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple] = {}
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape: tuple) -> bool:
        lo, _, hi = self.engine.record["profile"].get(name, (shape, shape, shape))
        if not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            raise ValueError(f"shape {shape} outside profile {lo}..{hi}")
        self.shapes[name] = tuple(shape)
        return True

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = int(ptr)
        return True

    def _run(self) -> dict[str, np.ndarray]:
        import onnxruntime as ort

        session = ort.InferenceSession(self.engine.record["onnx"], providers=["CPUExecutionProvider"])
        feed = {n: _read(self.addresses[n], np.float32, s) for n, s in self.shapes.items()}
        return dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))

    def get_tensor_shape(self, name: str) -> tuple:
        if name in self.shapes:
            return self.shapes[name]
        batch = next(iter(self.shapes.values()))[0]
        shape = self.engine.record["outputs"][name]
        return (batch, *shape[1:])

    def execute_async_v3(self, stream_handle: int) -> bool:
        for name, value in self._run().items():
            _write(self.addresses[name], value.astype(np.float32))
        self.engine.executions += 1
        return True


class ICudaEngine:
    def __init__(self, record: dict) -> None:
        self.record = record
        self.names = list(record["inputs"]) + list(record["outputs"])
        self.executions = 0

    @property
    def num_io_tensors(self) -> int:
        return len(self.names)

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name in self.record["inputs"] else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> DataType:
        return DataType.FLOAT

    def get_tensor_shape(self, name: str) -> tuple:
        shapes = {**self.record["inputs"], **self.record["outputs"]}
        return tuple(shapes[name])

    def create_execution_context(self) -> IExecutionContext:
        return IExecutionContext(self)


class Runtime:
    def __init__(self, logger: Logger) -> None:
        self.DLA_core = -1

    def deserialize_cuda_engine(self, blob: bytes) -> ICudaEngine | None:
        try:
            record = json.loads(bytes(blob))
        except ValueError:
            return None
        if record.get("version") != __version__:
            return None  # "The engine plan file is not compatible with this version of TensorRT"
        return ICudaEngine(record)


__version__ = "8.6.1"


def make_tensorrt(version: str = "8.6.1") -> types.ModuleType:
    """A fresh ``tensorrt`` module object backed by this file's classes."""
    global __version__
    __version__ = version
    module = types.ModuleType("tensorrt")
    for name, value in dict(globals()).items():
        if not name.startswith("_") and name not in (
            "make_tensorrt",
            "make_pycuda",
            "make_cuda_python",
            "install",
            "MEMORY",
        ):
            setattr(module, name, value)
    module.__version__ = version
    Builder.builds = []
    Builder.fast_int8 = True
    Builder.fast_fp16 = True
    return module


def install(monkeypatch: Any, version: str = "8.6.1", cuda: str = "pycuda") -> types.ModuleType:
    """Put fake ``tensorrt`` + ``pycuda`` (or cuda-python) into ``sys.modules`` for one test."""
    module = make_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    if cuda == "pycuda":
        fakes = make_pycuda()
    else:
        fakes = make_cuda_python()
        monkeypatch.setitem(sys.modules, "pycuda", None)  # absent: biogate must use cuda-python
    for name, mod in fakes.items():
        monkeypatch.setitem(sys.modules, name, mod)
    import biogate.engine.trt_calibrator as calib

    monkeypatch.setattr(calib, "_CLASS", None)  # rebuild the subclass on the new fake base
    return module
