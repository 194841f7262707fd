"""Training data: dataset layouts (:mod:`.layouts`) and, after issue #17's move, the data builders."""
