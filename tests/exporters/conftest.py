"""One real export of the reference CNN (INT8 included) shared by the exporter tests."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session")
def ref_bundle(tmp_path_factory):
    from biogate.exporters import export

    torch.set_num_threads(1)
    return export("reference_cnn", tmp_path_factory.mktemp("bundles"), int8=True)
