"""The small public records of the gallery API: what goes in and what comes out."""

from __future__ import annotations

from typing import Any, NamedTuple


class Identity(NamedTuple):
    """An enrolled person: external id, display name, metadata and number of templates."""

    id: str
    name: str
    meta: dict[str, Any]
    n_templates: int
    created: float


class Match(NamedTuple):
    """One 1:N result: the identity and its best template's cosine similarity to the probe."""

    identity_id: str
    name: str
    score: float
    template_id: str  # hex


class Matches(list):
    """The result of :meth:`Gallery.search`: a list of :class:`Match`, best first.

    ``exact`` is False only when the int8 shortlist had to be truncated (see ``max_shortlist``);
    ``shortlist`` is how many templates were re-ranked in float32.
    """

    exact: bool = True
    shortlist: int = 0


class Verification(NamedTuple):
    """A 1:1 decision."""

    identity_id: str
    score: float
    threshold: float
    accepted: bool


class Enrollment(NamedTuple):
    """One identity for :meth:`Gallery.enroll_many`."""

    identity_id: str
    name: str
    templates: Any  # (n, dim) or (dim,) array-like
    meta: dict[str, Any] | None = None


class Change(NamedTuple):
    """One operation of a batch for :meth:`Gallery.apply_changes`; build it with the class methods.

    ``op`` is ``"enroll"``, ``"add"`` (templates to an enrolled identity), ``"delete"`` (a no-op
    when the identity is absent: a revocation is idempotent) or ``"threshold"`` (``None`` clears
    the stored threshold).
    """

    op: str
    identity_id: str = ""
    name: str = ""
    templates: Any = None
    meta: dict[str, Any] | None = None
    threshold: float | None = None

    @classmethod
    def enroll(
        cls, identity_id: str, name: str, templates: Any, meta: dict[str, Any] | None = None
    ) -> Change:
        return cls("enroll", identity_id, name, templates, meta)

    @classmethod
    def add(cls, identity_id: str, templates: Any) -> Change:
        return cls("add", identity_id, templates=templates)

    @classmethod
    def delete(cls, identity_id: str) -> Change:
        return cls("delete", identity_id)

    @classmethod
    def set_threshold(cls, threshold: float | None) -> Change:
        return cls("threshold", threshold=threshold)


OPS = ("enroll", "add", "delete", "threshold")
