"""Training and evaluation data: the offline face photographs and their loaders, the face
detection metrics, the demo walk-up's visitors folder (:mod:`.walkup_visitors`), and the dataset
layouts users already have (:mod:`.layouts`: ``--data KIND:DIR`` of ``biogate train``). The
simulators (thermal faces, palm radiographs) are device-side code in :mod:`biogate.sim`."""
