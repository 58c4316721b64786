"""Tasks only tests enqueue: they report on the process that runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.tasks import task


@task(queue_name=settings.TASK_QUEUE_INTERACTIVE)
def note_loaded_modules(path: str, names: list[str]) -> None:
    """Write down which of these modules were loaded when the task began."""
    Path(path).write_text(json.dumps({name: name in sys.modules for name in names}))
