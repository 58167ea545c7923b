"""The portal's settings with the scale benchmark's bare view mounted (bench.scale_urls): only gunicorn
in `python -m bench --only scale` runs with these."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.scale_urls"
