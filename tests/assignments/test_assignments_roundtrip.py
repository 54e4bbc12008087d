"""Round trips through the grading pipeline: reference, blank, partial and the mistakes students make.

One class per assignment: pytest-xdist's loadscope gives each class its own worker, so the
assignments grade in parallel.
"""


class RoundTrip:
    AID: str

    def test_reference_gets_full_autograded_marks(self, graded):
        graded.check_reference_gets_full_marks()

    def test_blank_release_gets_zero(self, graded):
        graded.check_blank_gets_zero()

    def test_every_sample_submission_gets_its_expected_score_and_failing_cells(self, graded):
        graded.check_expected_scores()

    def test_feedback_shows_no_hidden_test_code_or_message(self, graded):
        graded.check_feedback_hides_hidden_tests()


class TestA1LossCurves(RoundTrip):
    AID = "a1_loss_curves"


class TestA2LossesOptimizers(RoundTrip):
    AID = "a2_losses_optimizers"


class TestA3GradientsLr(RoundTrip):
    AID = "a3_gradients_lr"


class TestA4CurveClinic(RoundTrip):
    AID = "a4_curve_clinic"
