"""The pytest glue: options and hooks, the suite's items, the fixtures, xdist and the JSON report."""

COLLECTOR = "smartmaint"  # the suite's collector: every item's node id starts with it
LIVE_GROUP = "smartmaint-live"  # the xdist_group of every live item: --dist loadgroup runs them in one worker
