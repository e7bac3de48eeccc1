import pandas as pd


def load(path: str = "data/train.csv") -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path)
    return frame.drop(columns="label"), frame["label"]
