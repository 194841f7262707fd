"""One module per registered model; each calls :func:`biogate.exporters.registry.register` on import.

:func:`biogate.exporters.registry.load_all` imports every module here, so adding a model
never touches a shared file.
"""
