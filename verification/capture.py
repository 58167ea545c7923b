"""A live capture, as every channel sends it (issue 9 §3 "one check for every live capture", issue 10 §1):
liveness frames instead of one live photo. The API (cards.card_users.api), the counter's card-user page and the
order wizard's handler step (C1) all come here, so that there is one check.

A platform's app asks the card user for head moves (`challenge`, e.g. "left,right"), takes 8 to 15 frames,
and sends them with their capture times. The frames go to the same active liveness check as the self-service
phone flow (verification.liveness, on the faces queue through verification.tasks.run_liveness_check), and the
outcome decides as it does there: a pass gives the most frontal frame as the live photo of the face
comparison; a fail is refused (400 liveness_failed with the reasons' codes: take the capture again); a check
that cannot tell (or a faces queue that does not answer in time) gives a frame as the live photo and sends
the registration to a reviewer, never to automatic approval.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from core.uploads import sanitize_upload
from verification.liveness import MOVES, parse_challenge, timestamp_from_name
from verification.tasks import run_liveness_check

MAX_FRAMES = 15  # as the phone flow's capture script (static/js/liveness_capture.js)
MAX_MOVES = 3
# How long the API waits for the faces queue; past it, a reviewer decides (the request must not hang).
WAIT_SECONDS = 30

MSG_FRAMES = _("Send 1 to %(max)s frames of the live capture, in capture order.")
MSG_CHALLENGE = _("challenge names the head moves asked, 1 to 3 of left, right, straight, e.g. left,right.")
MSG_TIMESTAMPS = _("timestamps holds one capture time in seconds per frame, comma-separated.")
MSG_CHALLENGE_STALE = _("The page's head-move challenge has expired. Take the live capture again.")
MSG_FAILED = _("The live capture does not show a live person doing the moves asked. Take it again.")


# A page's challenge travels signed in the form (the counter's page, C1): the server chose it, the browser
# only shows it, and a capture for another challenge, or one kept for hours, is not accepted.
CHALLENGE_SALT = "verification.capture.challenge"
CHALLENGE_MAX_AGE = 3600


# A frame of the page's capture is a small JPEG (static/js/liveness_capture.js takes them at 640 px).
MAX_FRAME_BYTES = 2 * 1024 * 1024
_JPEG_MAGIC = b"\xff\xd8\xff"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FramesField(forms.FileField):
    """The live capture's frames (the page's script fills this input): 1 to MAX_FRAMES JPEGs, in order."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/jpeg", "data-frames-input": "", "hidden": True})
        )
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploads = [upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload]
        if not uploads:
            return []
        if len(uploads) > MAX_FRAMES:
            raise forms.ValidationError(
                _("A live capture has at most %(max)s frames.") % {"max": MAX_FRAMES}, code="frames"
            )
        for upload in uploads:
            super().clean(upload, initial)
            if upload.size > MAX_FRAME_BYTES or not _is_jpeg(upload):
                raise forms.ValidationError(
                    _("The live capture's frames must be JPEG images of at most 2 MB each."), code="frames"
                )
        return uploads


def _is_jpeg(upload) -> bool:
    upload.seek(0)
    head = upload.read(3)
    upload.seek(0)
    return head == _JPEG_MAGIC


@dataclass(frozen=True)
class LiveCapture:
    live_photo: bytes
    review_required: bool
    outcome: str
    # The cleaned frames: a reviewer sees them side by side when the check did not prove presence.
    frames: tuple[bytes, ...] = field(default=(), repr=False)


def random_challenge() -> list[str]:
    """Two or three moves, at least one turn, no move twice in a row (as the phone flow asks)."""
    count = 2 + secrets.randbelow(2)
    moves = [secrets.choice(("left", "right"))]
    while len(moves) < count:
        move = secrets.choice(MOVES)
        if move != moves[-1]:
            moves.append(move)
    return moves


def challenge_sign(moves: Sequence[str]) -> str:
    return signing.dumps(",".join(moves), salt=CHALLENGE_SALT)


def challenge_unsign(token: str) -> str:
    """The moves a signed challenge names, as "left,right"; a forged or stale one is refused."""
    try:
        return str(signing.loads(token or "", salt=CHALLENGE_SALT, max_age=CHALLENGE_MAX_AGE))
    except signing.BadSignature:  # SignatureExpired is one
        raise ValidationFailed(MSG_CHALLENGE_STALE, code="invalid_challenge", field="frames") from None


def _challenge(text: str) -> list[str]:
    try:
        moves = parse_challenge(text or "")
    except ValueError:
        raise ValidationFailed(MSG_CHALLENGE, code="invalid_challenge", field="challenge") from None
    if len(moves) > MAX_MOVES:
        raise ValidationFailed(MSG_CHALLENGE, code="invalid_challenge", field="challenge")
    return [move for move in moves if move in MOVES]


def _timestamps(text: str, uploads: Sequence) -> list[float] | None:
    if text:
        try:
            times = [float(value) for value in text.split(",")]
        except ValueError:
            raise ValidationFailed(MSG_TIMESTAMPS, code="invalid_timestamps", field="timestamps") from None
        if len(times) != len(uploads):
            raise ValidationFailed(MSG_TIMESTAMPS, code="invalid_timestamps", field="timestamps")
        return times
    # The phone flow's page and the test data name frames ..._tSSS.sss.jpg.
    from_names = [timestamp_from_name(getattr(upload, "name", "") or "") for upload in uploads]
    return None if any(t is None for t in from_names) else [t for t in from_names if t is not None]


def live_capture_check(*, frames: Sequence, challenge: str, timestamps: str = "") -> LiveCapture:
    """Check a capture's frames; the live photo it gives, and whether a reviewer must look."""
    if not frames or len(frames) > MAX_FRAMES:
        raise ValidationFailed(MSG_FRAMES % {"max": MAX_FRAMES}, code="frames", field="frames")
    moves = _challenge(challenge)
    times = _timestamps(timestamps, frames)
    cleaned = [sanitize_upload(upload, field="frames").content for upload in frames]
    folder = f"api_liveness/{uuid.uuid4().hex}"
    names = [default_storage.save(f"{folder}/f{i:02d}.jpg", ContentFile(data)) for i, data in enumerate(cleaned)]
    try:
        result = run_liveness_check.delay(names, times, moves)
        # disable_sync_subtasks=False: Celery's "never join inside a task" guard is one process-wide flag that
        # eager tasks on other threads can leave set (see cards.self_service.phone.liveness_start).
        answer = result.get(timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False)
    except Exception:  # broker down, timeout: nothing proves presence, so a reviewer looks
        answer = None
    finally:
        for name in names:
            default_storage.delete(name)
    if not isinstance(answer, dict):
        answer = {"outcome": "inconclusive", "reasons": [], "best_frame": None}
    outcome = str(answer.get("outcome") or "inconclusive")
    if outcome == "fail":
        codes = [str(reason.get("code", "")) for reason in answer.get("reasons") or []]
        raise ValidationFailed(MSG_FAILED, code="liveness_failed", field="frames", extra={"reasons": codes})
    best = answer.get("best_frame")
    index = best if isinstance(best, int) and 0 <= best < len(cleaned) else 0
    return LiveCapture(
        live_photo=cleaned[index], review_required=outcome != "pass", outcome=outcome, frames=tuple(cleaned)
    )


MSG_CAPTURE_OR_PHOTO = _("Use either the live capture or one photo, not both: clear the photo.")


def clean_capture_or_photo(form: forms.Form, data: Mapping[str, Any], *, photo_field: str, missing: str) -> None:
    """A form's live photo comes as the capture's frames or, without a camera, as one photo: exactly one of the
    two. `missing` is the page's own words for neither (whose capture it is)."""
    if "frames" in form.errors or photo_field in form.errors:
        return
    frames, photo = data.get("frames"), data.get(photo_field)
    if frames and photo:
        form.add_error(photo_field, forms.ValidationError(MSG_CAPTURE_OR_PHOTO, code="both"))
    elif not frames and not photo:
        form.add_error("frames", forms.ValidationError(missing, code="required"))


def capture_page_context(labels: Mapping[str, object]) -> dict[str, object]:
    """A page's capture box (static/js/liveness_capture.js, form mode): a fresh challenge for each page shown,
    shown by the script and carried signed by the form. `labels`: what the script says, by move and state."""
    moves = random_challenge()
    return {
        "challenge": ",".join(moves),
        "challenge_token": challenge_sign(moves),
        "challenge_labels": [labels[move] for move in moves],
        "capture_labels": json.dumps({key: str(label) for key, label in labels.items()}, ensure_ascii=False),
    }


def live_photo_from_form(*, frames: Sequence[Any], challenge_token: str, timestamps: str, photo: Any) -> dict[str, Any]:
    """The live photo a page's form gives, and how it came, as verification_create takes them.

    A capture goes through live_capture_check (a fail is its ValidationFailed, about `frames`); one photo
    from the file input proves no presence, so a reviewer always decides on it.
    """
    if not frames:
        return {"live_photo": photo, "review_required": True, "liveness": "fallback"}
    try:
        capture = live_capture_check(frames=frames, challenge=challenge_unsign(challenge_token), timestamps=timestamps)
    except ValidationFailed as exc:
        # The page's timestamps and challenge are hidden inputs: their refusal is shown on the capture.
        raise ValidationFailed(exc.message, code=exc.code, field="frames", extra=exc.extra) from exc
    return {
        "live_photo": capture.live_photo,
        "review_required": capture.review_required,
        "liveness": capture.outcome,
        # A capture that proved no presence: its frames, side by side, for the reviewer.
        "liveness_frames": capture.frames if capture.review_required else (),
    }


__all__ = [
    "capture_page_context",
    "live_photo_from_form",
    "FramesField",
    "LiveCapture",
    "challenge_sign",
    "challenge_unsign",
    "live_capture_check",
    "random_challenge",
]
