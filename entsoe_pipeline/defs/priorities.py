"""Where background runs stand. The run queue and the API pool's slots both go by the run tag
``dagster/priority``, higher first (equal ones in order of arrival); runs users launch have 0.

* the store sensor's repairs, ``-1``: holes in what is stored, series whose newest data is overdue.
  They come before the automation's runs, so a hole is filled and stale data refreshed while a
  history fill of hours is under way, not after it;
* the automation's runs, ``-2``: the history fill, the refresh on the publication cadence, revision
  sweeps and retries. A backfill runs at most 3 runs at once out of 4 (dagster.yaml), so beside
  one backfill a refresh finds a free place; beside two it waits for one of their runs to end.
"""

REPAIR_PRIORITY = "-1"
AUTOMATION_PRIORITY = "-2"
