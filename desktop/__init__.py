"""Zumen desktop application (PySide6).

The UI talks to the engine only through `desktop.engine_bridge.EngineBridge`; every call that
touches files or models runs off the GUI thread through `desktop.workers.TaskRunner`.
"""
