"""`python -m plexus.recorder`: a worker's recorder process (child.py)."""

import asyncio
import contextlib
import os
import signal

from plexus.recorder.child import main

signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker ends it, by closing its stdin
# Below the worker's CPU priority: on a busy machine requests come first, and the recorder's
# buffers absorb the wait (it needs a few percent of a core at thousands of requests/s).
with contextlib.suppress(OSError):
    os.nice(10)
asyncio.run(main())
