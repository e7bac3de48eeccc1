"""The pytest glue: options and hooks, the suite's items, the fixtures, xdist and the JSON report."""

COLLECTOR = "smartmaint"  # the suite's collector: every item's node id starts with it
