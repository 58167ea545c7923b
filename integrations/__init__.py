"""The platform channel (C3): API keys, idempotent creates, signed callbacks and the events feed.

It stands between cards (whose services emit events) and the enterprises it serves (README, The floors).
"""
