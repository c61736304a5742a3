"""Tests of pkpd.testing."""
