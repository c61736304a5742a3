"""Tests of the ``pkpd`` command line (one module per module of :mod:`pkpd.cli`)."""
