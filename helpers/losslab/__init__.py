"""losslab: the Loss Curves course's reference helpers.

``import losslab`` gives the framework-free core (records, plots, diagnosis); the framework flavors are
``losslab.torch`` and ``losslab.tensorflow``, with the same names, and neither imports the other framework.
"""
from .core.history import TrainingHistory, as_history
from .core.smoothing import decimate_minmax, ema_smooth
from .core.plotting import plot_histories, plot_loss_curves, plot_lr_comparison, plot_training_dashboard
from .core.diagnosis import Diagnosis, Finding, Thresholds, identify_training_issues
from .core.lr_range import RangeTestResult, suggest_lr
from .core.live import LivePlot, progress

__version__ = "0.1.0"

__all__ = [
    "TrainingHistory", "as_history", "ema_smooth", "decimate_minmax", "plot_loss_curves", "plot_lr_comparison",
    "plot_training_dashboard", "plot_histories", "identify_training_issues", "Diagnosis", "Finding",
    "Thresholds", "RangeTestResult", "suggest_lr", "LivePlot", "progress",
]
