"""Client of the IoT SIM real-name portal's platform API (issue 10 §4)."""

__version__ = "0.1.0"
