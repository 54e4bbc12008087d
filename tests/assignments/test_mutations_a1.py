"""a1's tests tell right from wrong: every mutant of tests/assignments/mutants.py scores below the reference,
all graded through the pipeline in one call."""
from tests.assignments.mutants import A1, MutationSuite, timeout

pytestmark = timeout(A1)


class TestA1Mutations(MutationSuite):
    AID = A1
