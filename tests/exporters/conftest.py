"""Training-side fixtures: one torch thread (two CI cores are shared by the whole suite), and one real
export of the reference CNN (INT8 included) shared by the exporter tests."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def ref_bundle(tmp_path_factory):
    from biogate.exporters import export

    torch.set_num_threads(1)
    return export("reference_cnn", tmp_path_factory.mktemp("bundles"), int8=True)
