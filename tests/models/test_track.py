"""Surveillance modes: IoU/Hungarian tracking, sharpest face per track, grouping, identified cache."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.frame import Frame
from biogate.models.track import (
    FrameIdentifier,
    IdentifiedCache,
    IoUTracker,
    TrackedFaceSelector,
    group_by_similarity,
    iou_matrix,
    linear_assignment,
    sharpest_per_group,
)


def test_iou_matrix_known_values() -> None:
    a = [(0, 0, 10, 10), (100, 100, 5, 5)]
    b = [(0, 0, 10, 10), (5, 0, 10, 10), (50, 50, 10, 10)]
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(iou[1], [0.0, 0.0, 0.0])
    assert iou_matrix([], b).shape == (0, 3)
    with pytest.raises(ConfigError, match="positive width"):
        iou_matrix([(0, 0, 0, 10)], b)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 6), (6, 4), (5, 5), (2, 7)])
def test_hungarian_matches_brute_force(shape) -> None:
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.integers(0, 20, shape).astype(float)  # integer costs: many ties
        pairs = linear_assignment(cost)
        rows, cols = shape
        assert len(pairs) == min(rows, cols)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
        got = sum(cost[r, c] for r, c in pairs)
        if rows <= cols:
            best = min(
                sum(cost[r, p[r]] for r in range(rows)) for p in itertools.permutations(range(cols), rows)
            )
        else:
            best = min(
                sum(cost[p[c], c] for c in range(cols)) for p in itertools.permutations(range(rows), cols)
            )
        assert got == best


def _walk(start, velocity, frames, size=40):
    return [(start[0] + velocity[0] * t, start[1] + velocity[1] * t, size, size) for t in range(frames)]


def _crossing_ids(kalman: bool) -> dict:
    # Two faces walk towards each other at 9 px/frame and pass: at frame 16 each one stands
    # exactly where the other stood a frame before.
    a = _walk((0, 100), (9, 0), 30)
    b = _walk((279, 104), (-9, 0), 30)
    tracker = IoUTracker(iou_threshold=0.2, min_hits=2, max_age=2, kalman=kalman)
    seen: dict = {}
    for t in range(30):
        order = [0, 1] if t % 2 else [1, 0]  # detector output order must not matter
        boxes = [[a, b][i][t] for i in order]
        for track in tracker.update(boxes):
            seen.setdefault(order[track.det_index], set()).add(track.track_id)
    return seen


def test_crossing_faces_keep_their_identities_with_kalman_prediction() -> None:
    seen = _crossing_ids(kalman=True)
    assert seen[0] != seen[1] and len(seen[0]) == len(seen[1]) == 1
    # Where each face was last seen is a worse guess than where it is heading: without the
    # velocity model the two identities swap at the crossing.
    plain = _crossing_ids(kalman=False)
    assert len(plain[0]) == len(plain[1]) == 2


def test_birth_needs_min_hits_and_a_false_positive_never_confirms() -> None:
    tracker = IoUTracker(min_hits=3, max_age=1, kalman=False)
    face = (50, 50, 40, 40)
    assert tracker.update([face, (300, 300, 30, 30)]) == []  # frame 1: both tentative
    assert tracker.update([face]) == []  # frame 2: still tentative
    confirmed = tracker.update([face])  # frame 3: the face is born
    assert [t.box.tolist() for t in confirmed] == [list(face)]
    tracker.update([face])
    tracker.update([face])  # the one-frame false positive has died by now
    assert {t.track_id for t in tracker.tracks} == {confirmed[0].track_id}


def test_occlusion_shorter_than_max_age_keeps_the_id_longer_one_ends_the_track() -> None:
    path = _walk((0, 0), (5, 2), 40)
    tracker = IoUTracker(min_hits=1, max_age=3, kalman=True)
    ids = set()
    for t in range(40):
        visible = not (10 <= t < 13)  # hidden for 3 frames: within max_age
        out = tracker.update([path[t]] if visible else [])
        ids.update(tr.track_id for tr in out)
    assert len(ids) == 1
    for _ in range(3):
        tracker.update([])
    assert tracker.dead == [] and len(tracker.tracks) == 1
    tracker.update([])  # the 4th missed frame exceeds max_age
    assert [t.track_id for t in tracker.dead] == list(ids) and tracker.tracks == []
    reborn = tracker.update([path[-1]])
    assert reborn[0].track_id not in ids


def test_tracker_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="iou_threshold"):
        IoUTracker(iou_threshold=0)
    with pytest.raises(ConfigError, match="2 boxes but 1 scores"):
        IoUTracker().update([(0, 0, 5, 5), (9, 9, 5, 5)], scores=[0.9])


def _textured_frame(seq: int, box, blur_sigma: float, rng: np.random.Generator) -> Frame:
    image = np.full((240, 320), 90, np.uint8)
    x, y, w, h = box
    patch = rng.integers(0, 256, (h, w)).astype(np.uint8)
    if blur_sigma > 0:
        patch = cv2.GaussianBlur(patch, (0, 0), blur_sigma)
    image[y : y + h, x : x + w] = patch
    return Frame(image, "gray8", t_capture=seq * 33_000_000, seq=seq)


def test_tracked_face_selector_returns_the_sharpest_face_when_the_track_ends() -> None:
    rng = np.random.default_rng(5)
    selector = TrackedFaceSelector(IoUTracker(min_hits=2, max_age=2, kalman=False), window_s=None)
    sigmas = [3.0, 2.5, 2.0, 1.5, 1.0, 0.0, 1.0, 2.0, 3.0, 3.5]  # frame 5 is sharp
    ended = []
    for seq, sigma in enumerate(sigmas):
        box = (40 + 4 * seq, 60, 64, 64)
        ended += selector.push(_textured_frame(seq, box, sigma, rng), [box])
        if seq == 6:
            (track_id,) = selector.active()
            assert selector.best(track_id).frame.seq == 5
    assert ended == []
    for seq in range(10, 13):
        ended += selector.push(Frame(np.full((240, 320), 90, np.uint8), "gray8", seq * 33_000_000, seq), [])
    assert len(ended) == 1
    track_id, best = ended[0]
    assert best.frame.seq == 5 and best.roi == (60, 60, 64, 64)
    assert selector.active() == []


def _identities(rng: np.random.Generator, people: int, per_person: int, dim: int = 128, noise: float = 0.25):
    centres = rng.standard_normal((people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    faces = np.repeat(centres, per_person, axis=0) + noise / np.sqrt(dim) * rng.standard_normal(
        (people * per_person, dim)
    )
    return faces.astype(np.float32), np.repeat(np.arange(people), per_person)


@pytest.mark.parametrize("method", ["connected", "centroid"])
def test_grouping_recovers_people(method: str) -> None:
    rng = np.random.default_rng(6)
    faces, who = _identities(rng, 4, 5)
    order = rng.permutation(len(faces))
    groups = group_by_similarity(faces[order], threshold=0.5, method=method)
    assert sorted(sorted(int(who[order[i]]) for i in g) for g in groups) == [[p] * 5 for p in range(4)]
    assert group_by_similarity(faces[order], threshold=0.9999, method=method)[0] == [0]  # all apart


def test_connected_grouping_chains_where_centroid_does_not() -> None:
    # Three faces on an arc, 50° apart: a~b and b~c pass 0.6, a~c does not.
    angles = np.radians([0, 50, 100])
    faces = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert group_by_similarity(faces, 0.6, "connected") == [[0, 1, 2]]
    assert group_by_similarity(faces, 0.6, "centroid") == [[0, 1], [2]]
    with pytest.raises(ConfigError, match="valid: connected, centroid"):
        group_by_similarity(faces, 0.6, "kmeans")
    assert group_by_similarity(np.zeros((0, 8)), 0.5) == []


def test_sharpest_per_group_picks_the_sharpest_crop() -> None:
    rng = np.random.default_rng(7)
    faces, _ = _identities(rng, 2, 3)
    base = rng.integers(0, 256, (48, 48, 3)).astype(np.uint8)
    sigmas = [2.0, 0.0, 3.0, 1.5, 2.5, 0.7]  # sharpest: index 1 (person 0), index 5 (person 1)
    crops = [cv2.GaussianBlur(base, (0, 0), s) if s else base.copy() for s in sigmas]
    result = sharpest_per_group(crops, faces, threshold=0.5)
    assert sorted((sorted(g), best) for g, best, _ in result) == [([0, 1, 2], 1), ([3, 4, 5], 5)]
    with pytest.raises(ConfigError, match="uint8"):
        sharpest_per_group([c.astype(np.float32) for c in crops], faces, 0.5)


class _Scene:
    """A fake embedder and gallery search that count their calls."""

    def __init__(self) -> None:
        rng = np.random.default_rng(8)
        self.people = {name: v / np.linalg.norm(v) for name, v in zip("ab?", rng.standard_normal((3, 64)))}
        self.embeds = 0
        self.searches = 0

    def embed(self, frame: Frame, box: np.ndarray) -> np.ndarray:
        self.embeds += 1
        return self.people["ab?"[int(box[0]) // 100]] + 0.01

    def search(self, embedding: np.ndarray):
        self.searches += 1
        scores = {p: float(embedding @ self.people[p]) / np.linalg.norm(embedding) for p in "ab"}
        name = max(scores, key=scores.get)
        return (name, scores[name]) if scores[name] > 0.8 else None


def _frame(seq: int, seconds: float) -> Frame:
    return Frame(np.zeros((8, 8), np.uint8), "gray8", int(seconds * 1e9), seq)


def test_mode_a_skips_people_already_identified() -> None:
    scene = _Scene()
    ident = FrameIdentifier(scene.embed, scene.search, IdentifiedCache(threshold=0.8, ttl_s=10))
    boxes = [(10, 10, 40, 40), (110, 10, 40, 40), (210, 10, 40, 40)]  # person a, person b, a stranger
    first = ident.process(_frame(0, 0.0), boxes, track_ids=[1, 2, 3])
    assert [(r.identity_id, r.source) for r in first] == [
        ("a", "gallery"),
        ("b", "gallery"),
        (None, "unknown"),
    ]
    assert (scene.embeds, scene.searches) == (3, 3)
    second = ident.process(_frame(1, 0.1), boxes, track_ids=[1, 2, 3])
    assert [r.source for r in second] == ["track-cache", "track-cache", "unknown"]
    assert (scene.embeds, scene.searches) == (4, 4)  # only the stranger is looked at again
    # Person a comes back under a new track id: recognised from the cached embedding, no search.
    third = ident.process(_frame(2, 0.2), boxes[:1], track_ids=[9])
    assert (third[0].identity_id, third[0].source) == ("a", "embedding-cache") and scene.searches == 4
    # Without track ids every face is embedded, but known people still skip the gallery.
    fourth = ident.process(_frame(3, 0.3), boxes[:2])
    assert [r.source for r in fourth] == ["embedding-cache", "embedding-cache"] and scene.searches == 4
    # After the cache's time to live the gallery is asked again.
    late = ident.process(_frame(4, 30.0), boxes[:1], track_ids=[1])
    assert late[0].source == "gallery" and scene.searches == 5


def test_identified_cache_is_bounded() -> None:
    cache = IdentifiedCache(threshold=0.9, ttl_s=100, max_entries=2)
    rng = np.random.default_rng(9)
    vecs = rng.standard_normal((3, 16))
    for i, name in enumerate("xyz"):
        cache.remember(name, 0.9, now_ns=i, embedding=vecs[i])
    assert cache.lookup(3, embedding=vecs[0]) is None  # x was evicted, the oldest
    assert cache.lookup(3, embedding=vecs[2]).identity_id == "z"
    with pytest.raises(ConfigError):
        IdentifiedCache(0.9, max_entries=0)


def test_mode_a_with_a_gallery_batches_the_new_faces(tmp_path) -> None:
    from biogate.gallery import Gallery, GalleryKey

    scene = _Scene()
    (tmp_path / "db").mkdir()
    with Gallery(tmp_path / "db" / "g.db", GalleryKey.generate(), create=True, threshold=0.8) as gallery:
        gallery.enroll_many([("a", "A", scene.people["a"]), ("b", "B", scene.people["b"])])
        batches = []
        real = gallery.search_many
        gallery.search_many = lambda e, k=1: batches.append(len(e)) or real(e, k)
        ident = FrameIdentifier.for_gallery(scene.embed, gallery)
        boxes = [(10, 10, 40, 40), (110, 10, 40, 40), (210, 10, 40, 40)]
        first = ident.process(_frame(0, 0.0), boxes, track_ids=[1, 2, 3])
        assert [(r.identity_id, r.source) for r in first] == [
            ("a", "gallery"),
            ("b", "gallery"),
            (None, "unknown"),
        ]
        assert batches == [3]  # the three new faces went to the gallery together
        second = ident.process(_frame(1, 0.1), boxes, track_ids=[1, 2, 3])
        assert [r.source for r in second] == ["track-cache", "track-cache", "unknown"] and batches == [3, 1]
        assert ident.cache.threshold == 0.8  # the cache takes the gallery's threshold
        gallery.threshold = None
        with pytest.raises(ConfigError, match="mode A needs a threshold"):
            FrameIdentifier.for_gallery(scene.embed, gallery)
