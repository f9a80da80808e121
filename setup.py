"""Thin shim so Beam workers can install medcorpus with ``--setup_file ./setup.py``.

All metadata lives in pyproject.toml (PEP 621).
"""
from setuptools import setup

setup()
