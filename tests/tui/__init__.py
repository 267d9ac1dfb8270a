"""Tests of the terminal UI and the pure modules behind it."""
