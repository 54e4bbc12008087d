"""a3's tests tell right from wrong: every mutant of tests/assignments/mutants.py scores below the reference,
all graded through the pipeline in one call."""
from tests.assignments.mutants import A3, MutationSuite, timeout

pytestmark = timeout(A3)


class TestA3Mutations(MutationSuite):
    AID = A3
