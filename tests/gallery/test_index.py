"""The 1:N index: the int8 pass + float32 re-rank must give exactly the float32 brute-force answer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from biogate.errors import ConfigError, GalleryError
from biogate.gallery import index as gindex
from biogate.gallery import score_graph
from biogate.gallery.index import TemplateIndex, normalise, quantise


def _clustered(rng: np.random.Generator, identities: int, per_identity: int, dim: int, spread: float):
    """Several noisy templates around each identity's centre, plus an owner array."""
    centres = rng.standard_normal((identities, dim)).astype(np.float32)
    noise = spread * rng.standard_normal((identities, per_identity, dim)).astype(np.float32)
    data = (centres[:, None, :] + noise).reshape(-1, dim)
    owners = np.repeat(np.arange(identities, dtype=np.int64), per_identity)
    return normalise(data, dim), owners, normalise(centres, dim)


def _brute(unit: np.ndarray, owners: np.ndarray, alive: np.ndarray, q: np.ndarray, k: int, thr):
    scores = unit @ q
    best = {}
    for row in np.flatnonzero(alive):
        o = int(owners[row])
        if o not in best or scores[row] > best[o]:
            best[o] = float(scores[row])
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    if thr is not None:
        ranked = [kv for kv in ranked if kv[1] >= thr]
    return ranked[:k]


def _build(backend: str, unit, owners, **kw) -> TemplateIndex:
    index = TemplateIndex(unit.shape[1], backend, **kw)
    index.add_many(owners, [i.to_bytes(4, "big") for i in range(len(unit))], unit)
    return index


@pytest.fixture(autouse=True)
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small frozen blocks so every test exercises pre-packed segments and the live tail together.
    monkeypatch.setattr(gindex, "SEGMENT_ROWS", 512)
    monkeypatch.setattr(gindex, "SMALL_SEGMENT_ROWS", 128)


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("threshold", [None, 0.3])
def test_int8_search_equals_float32_brute_force(k: int, threshold) -> None:
    rng = np.random.default_rng(k)
    unit, owners, centres = _clustered(rng, 600, 4, 128, spread=0.6)
    index = _build("int8", unit, owners)
    # 2400 rows: 4 big blocks (2048 rows), 2 small ones (256 rows) and a tail of 96 rows
    assert [b - a for a, b, _ in index._snap.segments] == [512] * 4 + [128] * 2 and index._snap.frozen == 2304
    alive = np.ones(len(unit), bool)
    probes = np.vstack([centres[:20], normalise(rng.standard_normal((20, 128)), 128)])
    for q in probes:
        got = index.search(q, k, threshold)
        want = _brute(unit, owners, alive, q, k, threshold)
        assert got.exact
        assert [h.owner for h in got.hits] == [o for o, _ in want]
        np.testing.assert_allclose([h.score for h in got.hits], [s for _, s in want], rtol=0, atol=1e-6)


def test_near_ties_below_the_int8_resolution_are_ranked_exactly() -> None:
    # 3000 templates within ~0.01 cosine of each other: int8 alone cannot order them.
    rng = np.random.default_rng(21)
    unit = normalise(1 + 0.05 * rng.standard_normal((3000, 128)), 128)
    owners = np.arange(3000, dtype=np.int64)
    index = _build("int8", unit, owners)
    alive = np.ones(3000, bool)
    for q in normalise(1 + 0.05 * rng.standard_normal((10, 128)), 128):
        got = index.search(q, 3)
        assert got.exact and got.shortlist > 3
        assert [h.owner for h in got.hits] == [o for o, _ in _brute(unit, owners, alive, q, 3, None)]


def test_rows_added_one_batch_at_a_time_cross_segment_boundaries() -> None:
    rng = np.random.default_rng(22)
    unit, owners, centres = _clustered(rng, 700, 2, 48, spread=0.5)
    index = TemplateIndex(48, "int8")
    alive = np.ones(len(unit), bool)
    for a in range(0, len(unit), 130):
        b = min(len(unit), a + 130)
        index.add_many(owners[a:b], [bytes(4)] * (b - a), unit[a:b])
        sizes = [e - s for s, e, _ in index._snap.segments]
        assert index._snap.frozen == (b // 128) * 128 and sizes == [512] * (b // 512) + [128] * (
            b % 512 // 128
        )
        q = centres[owners[b - 1]]
        got = index.search(q, 4)
        assert [h.owner for h in got.hits] == [
            o for o, _ in _brute(unit[:b], owners[:b], alive[:b], q, 4, None)
        ]


def test_deleted_identities_vanish_and_compaction_keeps_answers() -> None:
    rng = np.random.default_rng(11)
    unit, owners, centres = _clustered(rng, 300, 3, 64, spread=0.5)
    index = _build("int8", unit, owners)
    alive = np.ones(len(unit), bool)
    for step, owner in enumerate(rng.permutation(300)[:150].tolist()):
        assert index.remove(owner) == 3
        alive[owners == owner] = False
        if step % 25 == 0:  # before and after the compactions that deletions trigger
            for q in centres[:30]:
                got = index.search(q, 5)
                assert [h.owner for h in got.hits] == [o for o, _ in _brute(unit, owners, alive, q, 5, None)]
    assert index._snap.frozen == (index._snap.n // 128) * 128  # segments rebuilt on compaction
    assert len(index) == 450 and index.remove(int(np.flatnonzero(~alive)[0] // 3)) == 0
    # template ids still belong to their rows after compaction
    q = centres[owners[np.flatnonzero(alive)[0]]]
    hit = index.search(q, 1).hits[0]
    row = int.from_bytes(hit.template_id, "big")
    assert owners[row] == hit.owner and alive[row]
    assert abs(float(unit[row] @ q) - hit.score) < 1e-6


def test_many_tombstones_keep_the_shortlist_small_and_exact() -> None:
    rng = np.random.default_rng(23)
    unit, owners, centres = _clustered(rng, 4000, 1, 64, spread=0.5)
    index = _build("int8", unit, owners, max_shortlist=200)
    alive = np.ones(4000, bool)
    for owner in rng.permutation(4000)[:990].tolist():  # just under the compaction trigger
        index.remove(owner)
        alive[owner] = False
    assert len(index._snap.dead) == 990
    for q in centres[:40]:
        got = index.search(q, 3)
        assert got.exact and got.shortlist < 200
        assert [h.owner for h in got.hits] == [o for o, _ in _brute(unit, owners, alive, q, 3, None)]


def test_quantisation_error_bound_holds() -> None:
    rng = np.random.default_rng(12)
    x = normalise(rng.standard_normal((2000, 128)) * rng.uniform(0.1, 3, (2000, 128)), 128)
    q = normalise(rng.standard_normal((50, 128)), 128)
    cx, sx, ex, nx = quantise(x)
    cq, sq, eq, _ = quantise(q)
    approx = (cx.astype(np.float64) * sx[:, None]) @ (cq.astype(np.float64) * sq[:, None]).T
    exact = x.astype(np.float64) @ q.T.astype(np.float64)
    bound = ex.max() + nx.max() * eq[None, :]
    assert (np.abs(exact - approx) <= bound).all()
    assert bound.max() < 0.05  # tight enough to keep shortlists small


def test_truncated_shortlist_is_reported() -> None:
    rng = np.random.default_rng(13)
    # Every template nearly identical: all fall within the error bound of the best one.
    unit = normalise(1 + 0.001 * rng.standard_normal((5000, 32)), 32)
    index = _build("int8", unit, np.arange(5000), max_shortlist=100)
    got = index.search(unit[0], 3)
    assert not got.exact and got.shortlist == 100 and len(got.hits) == 3
    assert _build("int8", unit, np.arange(5000)).search(unit[0], 3).exact


def test_auto_backend_and_argument_checks() -> None:
    rng = np.random.default_rng(14)
    unit, owners, centres = _clustered(rng, 50, 2, 16, spread=0.3)
    small = _build("auto", unit, owners)
    assert small.search(centres[7], 1).hits[0].owner == 7
    assert TemplateIndex(16).search(centres[0], 1).hits == []
    with pytest.raises(ConfigError, match="valid: auto, int8, float32"):
        TemplateIndex(16, "fp16")
    with pytest.raises(ConfigError, match="k must be"):
        small.search(centres[0], 0)
    with pytest.raises(GalleryError, match="zero vector"):
        normalise(np.zeros(16), 16)


def _helper_model(inputs, initializers, node_inputs, output) -> bytes:
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", node_inputs, ["Y"])],
        "biogate_gallery_scores",
        inputs,
        [output],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)], producer_name="biogate")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_hand_written_graphs_equal_onnx_helper_bytes() -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    zp = numpy_helper.from_array(np.array(128, np.uint8), "zp")
    tail = _helper_model(
        [
            helper.make_tensor_value_info("A", TensorProto.UINT8, ["N", "D"]),
            helper.make_tensor_value_info("B", TensorProto.INT8, ["D", "M"]),
        ],
        [zp],
        ["A", "B", "zp"],
        helper.make_tensor_value_info("Y", TensorProto.INT32, ["N", "M"]),
    )
    assert tail == score_graph.tail_scores_model()
    weights = np.random.default_rng(0).integers(-127, 128, (16, 300), dtype=np.int8)
    segment = _helper_model(
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", 16])],
        [zp, numpy_helper.from_array(weights, "W")],
        ["A", "W", "zp"],
        helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", 300]),
    )
    assert segment == score_graph.segment_scores_model(weights.tobytes(), 16, 300)


def test_graphs_compute_the_int8_dot_products() -> None:
    rng = np.random.default_rng(15)
    codes = rng.integers(-127, 128, (700, 24), dtype=np.int8)
    queries = rng.integers(-127, 128, (3, 24), dtype=np.int8)
    want = codes.astype(np.int32) @ queries.astype(np.int32).T  # (700, 3)
    from biogate.gallery import int8_kernel

    shifted = (codes.astype(np.int16) + 128).astype(np.uint8)
    q_rows = (queries.astype(np.int16) + 128).astype(np.uint8)
    feed_tail = {"A": shifted, "B": np.ascontiguousarray(queries.T)}
    ort_tail = gindex._session(score_graph.tail_scores_model()).run(None, feed_tail)[0]
    seg_bytes = np.ascontiguousarray(codes.T).tobytes()
    seg_model = score_graph.segment_scores_model(seg_bytes, 24, 700)
    ort_seg = gindex._session(seg_model).run(None, {"A": q_rows})[0]
    if int8_kernel.kernel_is_exact():  # VNNI / ARM: ONNX Runtime's graphs are what the index runs
        np.testing.assert_array_equal(ort_tail, want)
        np.testing.assert_array_equal(ort_seg, want.T)
    else:  # AVX2 without VNNI: the probe saw the saturation these full-range codes show too
        assert not np.array_equal(ort_tail, want)
    # Whatever the CPU, the scorers the index picks are exact.
    index = gindex.TemplateIndex(24, backend="int8")
    np.testing.assert_array_equal(index._tail().run(None, feed_tail)[0], want)
    seg = int8_kernel.ExactSegment(np.ascontiguousarray(codes.T))
    np.testing.assert_array_equal(seg.run(None, {"A": q_rows})[0], want.T)
    np.testing.assert_array_equal(seg.run(None, {"A": q_rows[:1]})[0][0], want[:, 0])


def test_search_many_equals_one_by_one() -> None:
    rng = np.random.default_rng(24)
    unit, owners, centres = _clustered(rng, 700, 3, 64, spread=0.6)
    index = _build("int8", unit, owners)
    probes = np.vstack([centres[:6], normalise(rng.standard_normal((4, 64)), 64)])
    batch = index.search_many(probes, 4, 0.2)
    assert batch == [index.search(q, 4, 0.2) for q in probes]
    alive = np.ones(len(unit), bool)
    for q, got in zip(probes, batch):
        assert [h.owner for h in got.hits] == [o for o, _ in _brute(unit, owners, alive, q, 4, 0.2)]


def test_concurrent_adds_freezes_compactions_and_searches() -> None:
    import threading

    rng = np.random.default_rng(25)
    stable = normalise(rng.standard_normal((300, 32)), 32)
    churn = normalise(rng.standard_normal((3000, 32)), 32)
    index = _build("int8", stable, np.arange(300))
    start, errors, wrong = threading.Barrier(3), [], []

    def searcher(seed: int) -> None:
        local = np.random.default_rng(seed)
        start.wait()
        try:
            for _ in range(300):
                i = int(local.integers(300))
                hit = index.search(stable[i], 1).hits[0]
                if hit.owner != i or hit.score < 0.9999:
                    wrong.append((i, hit))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    def writer() -> None:
        start.wait()
        try:
            for a in range(0, 3000, 100):  # crosses many segment freezes and merges
                index.add_many(np.arange(1000 + a, 1100 + a), [bytes(4)] * 100, churn[a : a + 100])
                for owner in range(1000 + a, 1060 + a):  # deleting 60% of each batch forces compactions
                    index.remove(owner)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(s,)) for s in (1, 2)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not wrong
    assert len(index) == 300 + 1200 and len(index._snap.segments) > 1
    for i in (0, 150, 299):
        assert index.search(stable[i], 1).hits[0].owner == i


@pytest.mark.parametrize("backend", ["float32", "int8"])
def test_update_removes_and_adds_as_one_published_change(backend: str) -> None:
    rng = np.random.default_rng(11)
    unit = normalise(rng.standard_normal((600, 32)).astype(np.float32), 32)
    index = _build(backend, unit, np.arange(600, dtype=np.int64))
    seen = []
    stop = threading.Event()

    def searcher() -> None:  # owner i moves to owner i + 1000 in one update: never neither
        while not stop.is_set():
            for i in range(0, 600, 97):
                seen.append((i, index.search(unit[i], k=1).hits[0].owner))

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for start in range(0, 600, 50):
            moved = np.arange(start, start + 50, dtype=np.int64)
            assert index.update(moved.tolist(), moved + 1000, [b"x"] * 50, unit[moved]) == 50
    finally:
        stop.set()
        thread.join()
    assert seen and all(owner in (i, i + 1000) for i, owner in seen)
    assert len(index) == 600 and sorted(index.owners()) == list(range(1000, 1600))
    assert index.search(unit[5], k=1).hits[0].owner == 1005


@pytest.mark.parametrize("kernel_exact", [True, False])
def test_search_is_exact_with_either_scorer(kernel_exact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Security regression (AVX2 without VNNI: ONNX Runtime's u8 x s8 kernel saturates and ranked
    # wrong identities as "exact"): whichever scorer the CPU gets, answers equal brute force.
    from biogate.gallery import int8_kernel

    if kernel_exact and not int8_kernel.kernel_is_exact():
        pytest.skip("this CPU's MatMulInteger saturates: ONNX Runtime's int8 scorer is not used here")
    monkeypatch.setattr(gindex, "kernel_is_exact", lambda: kernel_exact)
    rng = np.random.default_rng(77)
    unit, owners, centres = _clustered(rng, 300, 4, 128, spread=0.6)
    index = _build("int8", unit, owners)
    scorers = {type(s) for _, _, s in index._snap.segments}
    assert (int8_kernel.ExactSegment in scorers) != kernel_exact
    alive = np.ones(len(unit), bool)
    for q in np.vstack([centres[:10], normalise(rng.standard_normal((6, 128)), 128)]):
        got = index.search(q, 3, 0.2)
        assert got.exact
        assert [h.owner for h in got.hits] == [o for o, _ in _brute(unit, owners, alive, q, 3, 0.2)]
