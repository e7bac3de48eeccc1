import os

import httpx


def test_health() -> None:
    assert httpx.get(os.environ["API_URL"] + "/health").status_code == 200
