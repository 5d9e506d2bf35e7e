"""The one thing pyproject.toml cannot say: the checkout's resources/ folder ships as the package
`zumen_resources` (read with importlib.resources, engine/config.py). Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine", "engine.*", "desktop", "desktop.*"]) + ["zumen_resources"],
    package_dir={"zumen_resources": "resources"},
)
