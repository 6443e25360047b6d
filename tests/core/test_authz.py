import uuid

import pytest

from carloop.core.authz import ANONYMOUS, Subject
from carloop.core.errors import Problem


def test_require_customer_answers_401_403_or_the_user_id():
    user_id = uuid.uuid4()
    assert Subject(kind="customer", user_id=user_id).require_customer() == user_id
    with pytest.raises(Problem) as anonymous:
        ANONYMOUS.require_customer()
    assert anonymous.value.status == 401
    with pytest.raises(Problem) as staff:
        Subject(kind="operator", user_id=uuid.uuid4(), roles=frozenset({"ops"})).require_customer("仅限车主", "Owners only")
    assert (staff.value.status, staff.value.en) == (403, "Owners only")
