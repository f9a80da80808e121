"""The text engines load without PyTorch/Transformers, which stay importable for whoever needs them."""
from __future__ import annotations

import subprocess
import sys


def test_text_engines_load_without_torch_which_stays_importable():
    code = ("import sys, importlib.util\n"
            "import transforms.deid.text as t\n"
            "t.analyzer_engine(False)\n"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'loaded'\n"
            "assert sys.modules.get('torch', 1) is not None and sys.modules.get('transformers', 1) is not None\n"
            "if importlib.util.find_spec('torch') is not None:\n"
            "    import torch  # noqa: F401 - still importable afterwards\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
