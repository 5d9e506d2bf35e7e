"""Widgets of the desktop app: panes, views and the small models behind them."""
