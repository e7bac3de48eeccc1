"""The audio round trip: imports, libsndfile's version, a generated WAV written, read back and resampled
with resampy (numba compiles on first use: its cache dir must be writable).

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from typing import Any

out: dict[str, Any] = {
    "imports": {},
    "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
    "home": os.environ.get("HOME"),
}
for name in ("numpy", "soundfile", "librosa", "resampy"):
    try:
        module = __import__(name)
        out["imports"][name] = getattr(module, "__version__", "?")
    except Exception as e:
        out["imports"][name] = None
        out.setdefault("import_errors", {})[name] = type(e).__name__ + ": " + str(e)
if all(out["imports"].values()):
    import librosa
    import numpy as np
    import resampy
    import soundfile

    out["libsndfile"] = soundfile.__libsndfile_version__
    step = "write"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "smartmaint.wav")
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype("float32")
            soundfile.write(path, tone, 8000)
            step = "read"
            data, rate = soundfile.read(path, dtype="float32")
            step = "resample"
            resampled = librosa.resample(data, orig_sr=rate, target_sr=16000, res_type="kaiser_best")
            out["roundtrip"] = {
                "read_samples": int(data.shape[0]),
                "rate": rate,
                "resampled_samples": int(resampled.shape[0]),
            }
    except Exception as e:
        out["roundtrip_error"] = {
            "step": step,
            "error": type(e).__name__ + ": " + str(e),
            "trace": traceback.format_exc()[-800:],
        }
print(json.dumps(out))
