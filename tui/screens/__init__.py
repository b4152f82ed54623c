"""Screens pushed over the main screen (help, and later settings and compare)."""
