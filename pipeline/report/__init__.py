"""``prune report``: report.md, report.html and PNG figures of a run and its sweep (:mod:`pipeline.report.run`)."""
