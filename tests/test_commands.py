"""Every command the plugin runs has a timeout that ends in one clear message."""

from __future__ import annotations

import sys

import pytest

from pytest_smartmaint import commands


def test_a_command_that_hangs_is_stopped_and_named_with_its_last_output() -> None:
    script = "import sys, time; print('building step 3/7', flush=True); time.sleep(30)"
    with pytest.raises(commands.CommandTimeout) as caught:
        commands.run([sys.executable, "-c", script], timeout=1)
    message = str(caught.value)
    assert "did not finish within 1 s and was stopped" in message
    assert "time.sleep(30)" in message  # the command itself is named
    assert "building step 3/7" in message


def test_a_command_that_fails_returns_its_exit_code_and_output() -> None:
    done = commands.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], timeout=30)
    assert (done.returncode, done.stdout.strip()) == (3, "out")
