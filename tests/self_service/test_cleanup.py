"""Issue 9 §2: the beat task deletes what abandoned phone sessions uploaded; submitted and live ones stay."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.test import Client
from django.utils import timezone

from cards import tasks
from cards.self_service.cleanup import sweep_abandoned
from tests import idgen
from tests.images import jpeg_upload
from tests.self_service.test_phone_flow import _awaiting, _fake_liveness, _link, _state, _step

pytestmark = pytest.mark.django_db


def _to_review(client, token, card):
    client.post(f"/s/{token}/", {"consent": "on"})
    client.post(_step(token, "cards"), {"typed": card.iccid})
    client.post(_step(token, "identity"), {"name": "王五", "id_type": "resident_id", "id_number": idgen.resident_id()})
    client.post(_step(token, "id_photo"), {"photo": jpeg_upload("id.jpg")})


def _files(state) -> list[str]:
    names = [state[field] for field in ("id_photo", "live_photo") if state.get(field)]
    return names + list(state.get("frames") or []) + list(state.get("review_frames") or [])


def _age(client, link, minutes: int) -> None:
    """The session was last seen `minutes` ago (as if nobody came back)."""
    session = client.session
    key = f"self_service:{link.public_id}"
    state = session[key]
    state["seen"] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session[key] = state
    session.save()


def test_abandoned_sessions_lose_their_files_and_rows_while_submitted_and_live_ones_stay(
    world, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    idle = settings.SELF_SERVICE_SESSION_IDLE_MINUTES
    cards = _awaiting(world["enterprise"], 3)
    link, token = _link(world, cards)

    # Abandoned: the ID photo and an inconclusive capture's frames, then nobody came back.
    _fake_liveness(monkeypatch, "inconclusive")
    abandoned = Client()
    _to_review(abandoned, token, cards[0])
    abandoned.post(_step(token, "live"), {"frames": [jpeg_upload(f"f{i}.jpg") for i in range(8)], "timestamps": ""})
    abandoned_files = _files(_state(abandoned, link))
    assert len(abandoned_files) >= 9 and all(default_storage.exists(n) for n in abandoned_files)
    abandoned_key = abandoned.session.session_key
    _age(abandoned, link, idle + 5)

    # Submitted long ago: its status page stays reachable.
    submitted = Client()
    _to_review(submitted, token, cards[1])
    submitted.post(_step(token, "live"), {"photo": jpeg_upload("live.jpg")})
    with django_capture_on_commit_callbacks(execute=True):
        submitted.post(_step(token, "review"))
    _age(submitted, link, idle + 60)

    # Still going: the person is on the live step now.
    going = Client()
    _to_review(going, token, cards[2])
    going_files = _files(_state(going, link))
    assert going_files

    # An orphan folder (its session row was flushed) and a fresh one being written right now.
    private = storages["private"]
    old = private.save("self_service/orphan0000/id_photo.jpg", ContentFile(b"x"))
    past = (timezone.now() - timedelta(minutes=idle + 1)).timestamp()
    os.utime(private.path(old), (past, past))
    fresh = private.save("self_service/fresh00000/id_photo.jpg", ContentFile(b"x"))

    result = tasks.self_service_sweep_abandoned.apply().get()
    assert result == 2  # one abandoned state, one orphan folder

    assert not any(default_storage.exists(n) for n in abandoned_files)
    assert not Session.objects.filter(session_key=abandoned_key).exists()
    assert not os.path.exists(os.path.dirname(private.path(abandoned_files[0])))
    assert not private.exists(old) and private.exists(fresh)
    assert all(private.exists(n) for n in going_files)
    assert _state(going, link)["done"]
    status = submitted.get(f"/s/{token}/status/")
    assert status.status_code == 200 and 'data-status="in_review"' in status.content.decode()

    again = sweep_abandoned()
    assert (again.states, again.rows, again.folders) == (0, 0, 0)  # safe to repeat


def test_a_row_keeps_what_else_it_holds(world):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    client = Client()
    _to_review(client, token, card)
    session = client.session
    session["other"] = "kept"
    session.save()
    _age(client, link, settings.SELF_SERVICE_SESSION_IDLE_MINUTES + 1)
    result = sweep_abandoned()
    assert (result.states, result.rows) == (1, 0)
    data = Session.objects.get(session_key=client.session.session_key).get_decoded()
    assert data["other"] == "kept" and not any(key.startswith("self_service:") for key in data)


def test_the_beat_schedule_runs_the_sweep():
    entries = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "cards.tasks.self_service_sweep_abandoned"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] <= 30 * 60
