import pandas as pd


def to_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["pixel_mean", "pixel_std"])
