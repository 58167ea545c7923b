"""Seams between the floors: how a lower app lets a higher one react, without importing it.

The floors (README, "Layers") import only downwards. Where a lower floor must let a higher one act
(a passed face comparison completes an order; a filed change request notifies the approvers; the
card rules ask whether an approved exemption covers a card), the lower app declares a `Hook` in its
`hooks.py` and calls it; the higher app connects its receiver in its `AppConfig.ready()`. So every
seam is written down in two places that grep finds: the declaration and the `connect` call.

Unlike Django signals, a hook is called inside the caller's transaction, in the order receivers
were connected, its receivers' results come back to the caller, and an exception propagates (the
business action fails with it). No business logic lives in a hook itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Hook:
    """A named seam. `single=True`: exactly one receiver answers a question (`ask`)."""

    def __init__(self, name: str, *, single: bool = False) -> None:
        self.name = name
        self.single = single
        self._receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Connect a receiver (idempotent: AppConfig.ready() may run twice in tests)."""
        if receiver in self._receivers:
            return receiver
        if self.single and self._receivers:
            raise ImproperlyConfigured(f"hook {self.name} takes one receiver; {self._receivers[0]!r} is connected")
        self._receivers.append(receiver)
        return receiver

    @property
    def receivers(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._receivers)

    def send(self, **kwargs: Any) -> list[Any]:
        """Call every receiver with the keyword arguments; their results, in order."""
        return [receiver(**kwargs) for receiver in self._receivers]

    def ask(self, **kwargs: Any) -> Any:
        """The one receiver's answer. None connected is a configuration error, never a silent default."""
        if not self._receivers:
            raise ImproperlyConfigured(f"nothing answers hook {self.name}: is the app that connects it installed?")
        return self._receivers[0](**kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receiver(s)>"
