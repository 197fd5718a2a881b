"""Suite-wide settings.

Hypothesis draws new examples on every run on a developer's machine; in CI (``CI=true``) it uses
a fixed derandomized sequence so that a green run stays green and a red one can be replayed.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
