"""The package list for the wheel; everything else is declared in pyproject.toml.

The bundled plugins are kept in ``plugins/`` and installed as ``formengine_plugins``
(pyproject maps the folder with ``package-dir``). pyproject.toml can only discover
packages under their folder's own name, so the list is computed here: all of
``formengine`` as before, and each bundled plugin without its ``tests``.
"""

from setuptools import find_namespace_packages, setup

BUNDLED = find_namespace_packages("plugins", exclude=["tests", "*.tests", "*.tests.*", "*__pycache__*"])

setup(packages=[
    *find_namespace_packages(include=["formengine*"], exclude=["*__pycache__*"]),
    "formengine_plugins",
    *(f"formengine_plugins.{name}" for name in BUNDLED),
])
