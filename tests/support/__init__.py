"""Helpers shared by the tests: the CLI runner and project writers, run directories, a fake Hub."""
