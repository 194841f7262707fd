"""Training and evaluation data: the offline face photographs and their loaders, the face
detection metrics, and the demo walk-up's visitors folder (:mod:`.walkup_visitors`). The
simulators (thermal faces, palm radiographs) are device-side code in :mod:`biogate.sim`."""
