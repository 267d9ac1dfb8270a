"""Unit tests: pure logic, no subprocess, no training (`pytest tests/unit`)."""
