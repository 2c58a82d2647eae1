"""The ``qbrelay`` sub-commands, one module per command group.

Each module has ``register(sub)``, which adds its parsers to the top-level sub-parser set.
"""
