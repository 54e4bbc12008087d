"""Importing the plotting modules stays light: no IPython, ipywidgets, pyplot or framework until used."""
import subprocess
import sys


def test_plotting_modules_import_lazily():
    code = ("import sys, losslab.core.plotting, losslab.core.live, losslab.core.widgets, losslab.core.smoothing;"
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'matplotlib.pyplot', 'torch', 'tensorflow')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""
