"""What autograded test cells use: framework-free assertions (`compare`, `forbidden`) and per-framework fixtures
(`torch_fixtures`, `keras_fixtures`), all importable from here.

Test cells import these under private names in every cell (``from losslab.grading import check_close as
_check_close``), so a student who rebinds ``np``, ``assert_allclose`` or a losslab name changes nothing here.
Importing this package imports neither torch nor TensorFlow: each fixture imports its framework when called.
"""
from __future__ import annotations

from .compare import check_close, check_label, check_true, check_type, is_finite_number, to_numpy
from .forbidden import assert_avoids
from .keras_fixtures import keras_fit_with_callback, keras_gradients, keras_twin
from .student_code import with_student_code
from .torch_fixtures import (torch_grad_mode_probe, torch_optimizer_trace, torch_regression_case,
                             torch_training_run, torch_value_and_grad)

__all__ = ["to_numpy", "check_close", "check_true", "check_type", "check_label", "is_finite_number",
           "assert_avoids", "with_student_code", "torch_regression_case", "torch_training_run", "torch_value_and_grad",
           "torch_optimizer_trace", "torch_grad_mode_probe", "keras_twin", "keras_gradients", "keras_fit_with_callback"]
