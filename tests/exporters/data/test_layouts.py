"""Dataset layouts: each parses what users have, names the file (and line) at fault, splits by identity."""

from __future__ import annotations

import pytest

from biogate.errors import ConfigError
from biogate.exporters.data.layouts import describe, parse
from tests.exporters.training import tiny_layouts as T


def test_folders_layout_counts_hashes_and_splits_by_identity(tmp_path):
    T.write_folders(tmp_path / "f", identities=6, per=2)
    data = parse(f"folders:{tmp_path / 'f'}")
    assert len(data) == 12 and len(data.identities) == 6
    summary = data.summary()
    assert summary["images"] == 12 and summary["identities"] == 6 and len(summary["files_sha256"]) == 64
    split = data.split(fold=0, folds=3, seed=1)
    parts = [set(p.identities) for p in (split.train, split.val, split.test)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sum(len(p) for p in (split.train, split.val, split.test)) == 12  # no image lost, none shared
    assert split.test.identities == data.split(fold=0, folds=3, seed=1).test.identities  # seeded
    (tmp_path / "f" / "person0" / "0.png").write_bytes(b"x")  # the file list changed: so does its hash
    assert parse(f"folders:{tmp_path / 'f'}").digest() != data.digest()


def test_folders_layout_errors_name_the_file(tmp_path):
    T.write_folders(tmp_path / "f", identities=3)
    (tmp_path / "f" / "stray.jpg").write_bytes(b"jpg")
    with pytest.raises(ConfigError, match=r"stray\.jpg: an image directly in"):
        parse(f"folders:{tmp_path / 'f'}")
    (tmp_path / "f" / "stray.jpg").unlink()
    (tmp_path / "f" / "person1" / "empty.png").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"empty\.png: empty file"):
        parse(f"folders:{tmp_path / 'f'}")
    (tmp_path / "f" / "person1" / "empty.png").unlink()
    with pytest.raises(ConfigError, match="is not a folder"):
        parse(f"folders:{tmp_path / 'missing'}")
    with pytest.raises(ConfigError, match="unknown or unsupported layout 'imagenet'"):
        parse("imagenet:/x")
    with pytest.raises(ConfigError, match="choose from widerface"):
        parse(f"folders:{tmp_path / 'f'}", ("widerface",))
    with pytest.raises(ConfigError, match="identity folds: choose 3 to 3"):
        parse(f"folders:{tmp_path / 'f'}").split(folds=5)


def test_widerface_ground_truth_and_its_errors(tmp_path):
    root = T.write_widerface(tmp_path / "w", train=4, val=2)
    data = parse(f"widerface:{root}")
    assert set(data.parts) == {"train", "test"} and len(data.parts["test"]) == 2
    assert all(it.label.shape[1] == 4 for it in data.items)
    split = data.split(folds=3)
    assert len(split.test) == 2 and not set(split.train.identities) & set(split.val.identities)
    gt = root / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    lines = gt.read_text().splitlines()
    lines[2] = "12 x 4 4 0 0 0 0 0 0"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"wider_face_val_bbx_gt.txt line 3: non-numeric face box"):
        parse(f"widerface:{root}")
    lines[0] = "0--Event0/missing.jpg"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"line 1: .*missing.jpg does not exist"):
        parse(f"widerface:{root}")


def test_lfw_pairs_protocol_and_its_errors(tmp_path):
    root = T.write_lfw_pairs(tmp_path / "lfw")
    data = parse(f"lfw-pairs:{root}")
    pairs = data.extra["pairs"]
    assert len(pairs) == 8 and data.extra["folds"] == 2
    assert [p[2] for p in pairs[:4]] == [True, True, False, False] and {p[3] for p in pairs} == {0, 1}
    text = (root / "pairs.txt").read_text().splitlines()
    (root / "pairs.txt").write_text("\n".join([text[0], "Person_A\t1\t9", *text[2:]]) + "\n")
    with pytest.raises(ConfigError, match=r"pairs.txt line 2: .*Person_A_0009.jpg does not exist"):
        parse(f"lfw-pairs:{root}")
    (root / "pairs.txt").write_text("\n".join([*text[:3], "Person_A\t1\t2", *text[4:]]) + "\n")
    with pytest.raises(ConfigError, match=r"line 4: expected 'name1 i name2 j' \(mismatched pair\)"):
        parse(f"lfw-pairs:{root}")
    (root / "pairs.txt").write_text("\n".join(text[:-1]) + "\n")
    with pytest.raises(ConfigError, match=r"promises 2 fold\(s\) of 2 matched \+ 2 .*found 7"):
        parse(f"lfw-pairs:{root}")


def test_pad_folders_species_and_identities(tmp_path):
    root = T.write_pad_folders(tmp_path / "pad", identities=3)
    data = parse(f"pad-folders:{root}")
    assert data.extra["species"] == ["print", "replay"] and data.extra["per_identity"]
    assert {it.label for it in data.items} == {"bona_fide", "print", "replay"}
    assert data.identities == ["p0", "p1", "p2"]  # attacks belong to the person they imitate
    for folder in (root / "attack" / "replay").iterdir():
        for f in folder.iterdir():
            f.unlink()
    with pytest.raises(ConfigError, match="replay holds no images"):
        parse(f"pad-folders:{root}")


def test_thermal_labels_are_checked_line_by_line(tmp_path):
    root = tmp_path / "t"
    (root / "thermal" / "ann").mkdir(parents=True)
    import cv2
    import numpy as np

    cv2.imwrite(str(root / "thermal" / "ann" / "0.png"), np.full((24, 32), 30815, np.uint16))
    labels = root / "thermal" / "labels.csv"
    labels.write_text("file,core_c\nann/0.png,36.9\n")
    data = parse(f"thermal:{root}")
    assert data.items[0].label == {"core_c": 36.9, "ambient_c": 22.0} and data.identities == ["ann"]
    labels.write_text("file,core_c\nann/0.png,98.6\n")
    with pytest.raises(ConfigError, match=r"labels.csv line 2: core_c 98.6 is outside"):
        parse(f"thermal:{root}")
    labels.write_text("file,core_c\nann/0.png,warm\n")
    with pytest.raises(ConfigError, match=r"line 2: column core_c must be a number"):
        parse(f"thermal:{root}")
    labels.write_text("file,temperature\n")
    with pytest.raises(ConfigError, match=r"line 1: missing column\(s\) core_c"):
        parse(f"thermal:{root}")


def test_palm_dicom_labels_and_reading(tmp_path):
    from biogate.exporters.data.layouts.palm import read_counts

    root = T.write_palm(tmp_path / "p", subjects=3, lr=16)
    data = parse(f"palm-dicom:{root}")
    assert len(data) == 9 and data.identities == ["s0", "s1", "s2"]
    assert {it.label["kind"] for it in data.items} == {"live", "rubber", "resin_bones"}
    assert all(it.label["hr"] for it in data.items)
    assert read_counts(data.path(data.items[0])).shape == (16, 16)
    text = (root / "labels.csv").read_text().splitlines()
    (root / "labels.csv").write_text(
        "\n".join([text[0], text[1].replace(",1,", ",maybe,"), *text[2:]]) + "\n"
    )
    with pytest.raises(ConfigError, match=r"labels.csv line 2: label must be 1/live or 0/fake"):
        parse(f"palm-dicom:{root}")
    (root / "labels.csv").write_text("id,label\n")
    with pytest.raises(ConfigError, match=r"missing column\(s\) subject"):
        parse(f"palm-dicom:{root}")
    (root / "IMG001.dcm").write_bytes(b"not dicom")
    with pytest.raises(ConfigError, match=r"IMG001\.dcm: not a readable DICOM image"):
        read_counts(root / "IMG001.dcm")


def test_builtin_sources_and_the_catalogue():
    kinds = [k for k, _ in describe()]
    assert {"widerface", "folders", "lfw-pairs", "pad-folders", "thermal", "palm-dicom"} <= set(kinds)
    assert {"portraits", "composites", "thermal-sim", "palm-sim"} <= set(kinds)
    sim = parse("thermal-sim:4x3")
    assert len(sim) == 12 and len(sim.identities) == 4
    with pytest.raises(ConfigError, match="thermal-sim:IDENTITIESxCAPTURES"):
        parse("thermal-sim:lots")
    with pytest.raises(ConfigError, match="takes no folder"):
        parse("portraits:/data")
