"""biogate.kiosk.schema: the annotation-driven checker behind every kiosk.toml table."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from biogate.errors import BiogateInternalError, ConfigError
from biogate.kiosk.config import KioskConfig, load_config, table_classes
from biogate.kiosk.policy import PolicyConfig
from biogate.kiosk.schema import Kind, Table, build_table, checked, describe, field_specs, parse_annotation

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kiosk.md"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("int", Kind("int")),
        ("float | None", Kind("union", (Kind("float"), Kind("none")))),
        ("Optional[str]", Kind("union", (Kind("str"), Kind("none")))),
        (
            "list[list[float]] | None",
            Kind("union", (Kind("list", (Kind("list", (Kind("float"),)),)), Kind("none"))),
        ),
        ("dict[str, Any]", Kind("dict", (Kind("any"),))),
        ("typing.List[int]", Kind("list", (Kind("int"),))),
        ("Union[int, str, None]", Kind("union", (Kind("int"), Kind("str"), Kind("none")))),
    ],
)
def test_annotations_parse_without_being_evaluated(text, kind):
    assert parse_annotation(text) == kind


@pytest.mark.parametrize(
    "text", ["tuple[int, int]", "set[str]", "dict[int, str]", "Callable[[], int]", "int |"]
)
def test_an_unsupported_annotation_is_a_bug_not_a_user_error(text):
    with pytest.raises(BiogateInternalError, match="not supported"):
        parse_annotation(text)


def test_descriptions():
    assert describe(parse_annotation("list[list[float]]")) == "a list of lists of numbers"
    assert describe(parse_annotation("bool")) == "true or false"
    assert describe(parse_annotation("int | None")) == "an integer"


@dataclass(frozen=True)
class _Fleet(Table):
    url: str = ""
    sync_s: float = checked(5.0, gt=0)
    peers: list[str] = field(default_factory=list)
    mode: str = checked("pull", choices=("pull", "push"))

    def validate(self) -> None:
        if self.mode == "push" and not self.url:
            raise ConfigError("mode = push needs url")


def test_a_new_table_is_checked_with_no_more_code():
    assert _Fleet(sync_s=1).sync_s == 1
    for kwargs, message in [
        ({"sync_s": 0}, "sync_s must be > 0, got 0"),
        ({"sync_s": True}, "sync_s must be a number, got true"),
        ({"peers": ["a", 3]}, "peers[1] must be a string, got 3 (an integer)"),
        ({"mode": "both"}, "mode must be one of pull, push"),
        ({"mode": "push"}, "mode = push needs url"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            _Fleet(**kwargs)


def test_build_table_prefixes_where_and_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"^f\.toml \[fleet\]: sync_s must be > 0"):
        build_table(_Fleet, {"sync_s": -1}, "f.toml [fleet]")
    with pytest.raises(ConfigError, match=r"unknown key.*urll.*valid: mode, peers, sync_s, url"):
        build_table(_Fleet, {"urll": "x"}, "f.toml [fleet]")


def test_python_callers_get_the_same_checks():
    with pytest.raises(ConfigError, match="fever_c must be a number"):
        PolicyConfig(fever_c="hot")
    with pytest.raises(ConfigError, match="open_duration_ms must be in"):
        PolicyConfig(open_duration_ms=50)


# -- every field of every kiosk.toml table, now and later -----------------------------------

_WRONG = {"bool": "yes", "int": 1.5, "float": "fast", "str": 3, "list": "x", "dict": 3}


def _fields():
    for table, cls in table_classes().items():
        for spec in field_specs(cls):
            kinds = spec.kind.args if spec.kind.name == "union" else (spec.kind,)
            wrong = next((_WRONG[k.name] for k in kinds if k.name in _WRONG), None)
            if wrong is not None:
                yield table, spec.name, wrong


@pytest.mark.parametrize(("table", "key", "wrong"), list(_fields()))
def test_every_field_refuses_a_wrong_type(tmp_path, table, key, wrong):
    value = f'"{wrong}"' if isinstance(wrong, str) else wrong
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[{table}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path} [{table}]: {key}")):
        load_config(path)


def test_every_table_is_a_kiosk_config_field():
    names = {f.name for f in dataclasses.fields(KioskConfig)} - {"base_dir", "name"}
    assert set(table_classes()) == names


def test_docs_reference_lists_every_key():
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+\.[a-z_0-9]+)`", text))
    missing = [
        f"{table}.{spec.name}"
        for table, cls in table_classes().items()
        for spec in field_specs(cls)
        if f"{table}.{spec.name}" not in documented
    ]
    assert not missing, f"docs/kiosk.md configuration reference lacks {missing}"
