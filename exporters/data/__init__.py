"""Training and evaluation data: the offline face photographs and their loaders, the face
detection metrics, and the radiometric thermal face generator (:mod:`.thermal_data`)."""
