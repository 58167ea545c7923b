"""The platform channel's records (C3)."""
