"""a2's tests tell right from wrong: every mutant of tests/assignments/mutants.py scores below the reference,
all graded through the pipeline in one call."""
from tests.assignments.mutants import A2, MutationSuite, timeout

pytestmark = timeout(A2)


class TestA2Mutations(MutationSuite):
    AID = A2
