"""The garbage-collector tuning lives in mlgym_tui.tui.perf now (beside Textual's private-API uses).

This name stays for the replay code that imports it: `mlgym_tui.tui.collector` IS the perf module (one module
object, so hold counts and a patched YOUNG_LIMIT are shared), not a copy of its names.
"""

import sys

from mlgym_tui.tui import perf

sys.modules[__name__] = perf
