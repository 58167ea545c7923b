"""The live step reads an eager liveness result even when Celery's process-wide "never join inside a task"
flag was left set: two eager tasks on two threads leave it set (celery.result.denied_join_result restores a
stale value), and the step answered 500 after that (found by tests/self_service/test_concurrency.py)."""

from __future__ import annotations

import pytest
from celery._state import _set_task_join_will_block, task_join_will_block

from cards.self_service import services
from tests import idgen
from tests.self_service.test_concurrency import _awaiting, _fake_liveness_pass, _phone_up_to_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def join_flag_left_set():
    before = task_join_will_block()
    _set_task_join_will_block(True)
    yield
    _set_task_join_will_block(before)


def test_the_live_step_settles_an_eager_check_with_the_join_flag_left_set(
    client, world, monkeypatch, join_flag_left_set
):
    _fake_liveness_pass(monkeypatch)
    cards = _awaiting(world["enterprise"], 1)
    _link, token = services.link_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        label="Site A",
        identifiers=[c.iccid for c in cards],
        max_uses=10,
    )
    _phone_up_to_review(client, token, cards, idgen.resident_id())  # asserts the live step answered done
