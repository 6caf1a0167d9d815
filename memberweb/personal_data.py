"""'Download my data' (the PIPL right to a copy): everything the program holds about the member,
membership's part and then campaigns' (coupons, messages), as one document."""

from campaigns import selectors as campaign_selectors
from membership.models import Member
from membership.services import accounts


def personal_data(member: Member) -> dict:
    data = accounts.personal_data(member)
    data.update(campaign_selectors.personal_data(member))
    return data
