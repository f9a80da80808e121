"""Load spaCy and Presidio without PyTorch and Transformers, which the text engines never use.

When PyTorch is installed in the same environment (the test extras install it for TRL), spaCy's
``thinc`` imports it on ``import spacy`` and Presidio imports Transformers (for a Hugging Face NER
engine we do not use) and PyTorch again to detect a GPU: about 5.5 CPU seconds per worker process,
a third of a records-only build's start-up. Our engines are spaCy's small CPU pipeline plus
pattern recognizers, so both libraries are hidden while the engines are imported and built: the
imports fail the way they do where PyTorch is not installed (the libraries' supported fallback),
and the modules are importable again afterwards. A process that already imported them keeps them.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

#: imported by spaCy/thinc and Presidio when installed, never needed by the text engines
UNUSED = ("torch", "transformers")


@contextmanager
def without_unused_libraries():
    hidden = [name for name in UNUSED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # ``import name`` raises ModuleNotFoundError
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
