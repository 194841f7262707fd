"""Template inversion audit (seed 003, issue #11): can a face be rebuilt from stored templates?

* :mod:`.data` — identities from the offline real faces, average faces, identity-disjoint split;
* :mod:`.attack` — the black-box inverse model and the white-box latent optimisation (S102/S103);
* :mod:`.metrics` — success attack rate at the operating threshold and at FMR 1e-3, baselines;
* :mod:`.report` — the audit run behind ``biogate audit inversion`` (JSON + PNG grid).

See ``docs/inversion.md``.
"""
