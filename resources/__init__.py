"""Zumen's shipped resources as a package (see engine/config.py: resources_dir)."""
