"""The ``runyard`` command: one typer sub-app per noun, assembled in ``main``."""
