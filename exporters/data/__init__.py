"""Training and evaluation data: the offline face photographs and their loaders, the face
detection metrics, the radiometric thermal face generator (:mod:`.thermal_data`), and the dataset
layouts users already have (:mod:`.layouts`: ``--data KIND:DIR`` of ``biogate train``)."""
