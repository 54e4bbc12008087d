"""Round trip of a1_loss_curves through the grading pipeline: reference, blank, partial and the mistakes students make."""
AID = "a1_loss_curves"


def test_reference_gets_full_autograded_marks(graded):
    graded.check_reference_gets_full_marks()


def test_blank_release_gets_zero(graded):
    graded.check_blank_gets_zero()


def test_every_sample_submission_gets_its_expected_score_and_failing_cells(graded):
    graded.check_expected_scores()


def test_feedback_shows_no_hidden_test_code_or_message(graded):
    graded.check_feedback_hides_hidden_tests()
