import glob

import librosa
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

clips = sorted(glob.glob("samples/*.wav"))
features = [librosa.feature.mfcc(y=librosa.load(c, sr=16000)[0], sr=16000).mean(axis=1) for c in clips]
labels = np.arange(len(clips)) % 2
with mlflow.start_run():
    model = LogisticRegression().fit(np.stack(features), labels)
    mlflow.sklearn.log_model(model, "model", registered_model_name="keyword-spotter")
