import pytest

from billing.domain.trials import Applicant, Refusal, TrialTerms, refusal

TERMS = TrialTerms(days=3, traffic_limit_bytes=0, per_hour=10)
NEWCOMER = Applicant(had_trial=False, has_paid=False, has_subscription=False, started_last_hour=9)


@pytest.mark.parametrize(
    ("terms", "applicant", "expected"),
    [
        (TERMS, NEWCOMER, None),
        (TrialTerms(days=0, traffic_limit_bytes=0, per_hour=10), NEWCOMER, Refusal.OFF),
        (TERMS, Applicant(True, False, False, 0), Refusal.USED),
        (TERMS, Applicant(False, True, True, 0), Refusal.PAID),
        (TERMS, Applicant(False, False, True, 0), Refusal.SUBSCRIBED),
        (TERMS, Applicant(False, False, False, 10), Refusal.BUSY),
        # The account's own history is told before the crowd's.
        (TERMS, Applicant(True, True, True, 10), Refusal.USED),
    ],
    ids=["newcomer", "off", "used", "payer", "subscribed", "busy", "order"],
)
def test_who_gets_a_trial(
    terms: TrialTerms, applicant: Applicant, expected: Refusal | None
) -> None:
    assert refusal(terms, applicant) is expected
