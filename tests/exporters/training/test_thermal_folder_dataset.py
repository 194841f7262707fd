"""The real-data retraining path: a paired RGB/thermal dataset laid out as folders."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.training.train_thermal import load_folder_dataset
from biogate.sim.thermal import ThermalFaceGenerator


def _write_dataset(root, people=("ann", "bob"), captures=2):
    gen = ThermalFaceGenerator(seed=5)
    rows, bb = [], None
    for k, name in enumerate(people):
        (root / "rgb" / name).mkdir(parents=True)
        (root / "thermal" / name).mkdir(parents=True)
        for c in range(captures):
            s = gen.sample(k, c)
            cv2.imwrite(str(root / "rgb" / name / f"{c}.png"), cv2.cvtColor(s.rgb, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / "thermal" / name / f"{c}.png"), s.frame_ck)  # 16-bit centi-kelvin
            rows.append({"file": f"{name}/{c}.png", "core_c": s.core_c, "ambient_c": s.ambient_c})
            bb = s.blackbody_box
    with (root / "thermal" / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "core_c", "ambient_c"])
        writer.writeheader()
        writer.writerows(rows)
    return rows, bb


def test_folder_dataset_loads_crops_labels_and_rgb(tmp_path):
    rows, bb = _write_dataset(tmp_path)
    ir, rgb = load_folder_dataset(tmp_path, bb, 35.0)
    assert ir["ir"].shape == (4, 1, 64, 64) and ir["ir"].dtype == np.float32
    assert ir["identity"].tolist() == [0, 0, 1, 1] and bool(ir["found"].all())
    assert np.allclose(ir["core"], [r["core_c"] for r in rows])
    assert rgb["rgb"].shape == (4, 64, 64, 3) and rgb["identity"].tolist() == [0, 0, 1, 1]
    # the canthus reading of a corrected frame tracks the core temperature
    assert np.all(np.abs(ir["canthus"] + 0.5 - ir["core"]) < 1.0)


def test_missing_labels_and_8_bit_thermal_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"labels\.csv"):
        load_folder_dataset(tmp_path)
    _write_dataset(tmp_path, people=("ann",), captures=1)
    cv2.imwrite(str(tmp_path / "thermal" / "ann" / "0.png"), np.zeros((240, 320), np.uint8))
    with pytest.raises(ConfigError, match="16-bit"):
        load_folder_dataset(tmp_path)
    (tmp_path / "thermal" / "ann" / "0.png").unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        load_folder_dataset(tmp_path)
