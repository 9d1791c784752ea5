"""The post-run gate: may a finished run's model be released?

    from picogate.postrun import RunRecorder, postrun
    rec = RunRecorder("runs/r1")            # trainers record stages into a run directory
    ...
    postrun("runs/r1").status               # "approved" | "warn" | "blocked"

`rundir` (layout and recorder), `honesty` (do the claims match the evidence), `stats` (Wilson
intervals, two-proportion test), `gate` (evidence row -> evaluate), `report` (markdown + chart).
"""

from picogate.postrun.gate import Outcome, postrun, run
from picogate.postrun.rundir import RunDir, RunRecorder, sha256_file

__all__ = ["Outcome", "RunDir", "RunRecorder", "postrun", "run", "sha256_file"]
