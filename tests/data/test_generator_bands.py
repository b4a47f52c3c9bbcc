"""Band profiles of generator traces: the bands themselves, the v6 eigenswap / sbi contrast,
and `fakescope data synth-bands`."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from fakescope.cli.main import main
from fakescope.data.generators.bands import (
    BANDS,
    band_log_std,
    band_profile,
    direction_log_energy,
    orientation_contrast,
)
from fakescope.data.generators.ops import grey_band


def test_grey_band_splits_the_image_into_its_scales():
    rng = np.random.default_rng(0)
    img = rng.normal(128, 20, (64, 64, 3)).astype(np.float32)
    bands = [grey_band(img, a, b) for a, b in BANDS.values()]
    g = img.mean(2)
    rest = cv2.GaussianBlur(g, (0, 0), 3.0)
    np.testing.assert_allclose(sum(bands) + rest, g, atol=1e-3)  # telescoping sum


def test_band_log_std_sees_where_detail_was_removed():
    rng = np.random.default_rng(0)
    noise = rng.normal(128, 20, (64, 64, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 1.0)
    mask = np.ones((64, 64), bool)
    diff = band_log_std(blurred, mask) - band_log_std(noise, mask)
    assert diff[0] < -1.0  # white noise: the fine band is almost gone after a 1 px blur
    assert diff[0] < diff[1] < diff[2] < 0  # and the coarser a band, the less it lost
    flat = band_log_std(np.full((16, 16, 3), 90, np.uint8), np.ones((16, 16), bool))
    np.testing.assert_allclose(flat, np.log(1e-3))


def test_orientation_contrast_finds_the_direction_detail_was_lost_along():
    from fakescope.data.generators.local import smear_kernel

    rng = np.random.default_rng(0)
    noise = rng.normal(128, 20, (96, 96, 3)).astype(np.float32)
    mask = np.zeros((96, 96), bool)
    mask[16:80, 16:80] = True
    base = direction_log_energy(noise, mask)
    for theta in (30, 120):
        smeared = cv2.filter2D(noise, -1, smear_kernel(2.5, np.deg2rad(theta)))
        c, angle = orientation_contrast(direction_log_energy(smeared, mask) - base)
        assert angle == theta and c < -1.0, (theta, c, angle)
    c, _ = orientation_contrast(direction_log_energy(cv2.GaussianBlur(noise, (0, 0), 1.0), mask)
                                - base)
    assert abs(c) < 0.1  # an isotropic blur loses detail in every direction alike


def test_eigenswap_loses_mid_detail_where_sbi_loses_fine_detail():
    """Relative comparisons between generators on the same six faces (each row: mean log-std
    change of a band, fake minus real; negative = detail lost): sbi loses the fine band most;
    eigenswap's loss sits further from the fine band than sbi's and is well under half of sbi's
    there, and it loses more mid detail than a warp (reenact), which moves detail rather than
    removing it."""
    table = band_profile(["sbi", "eigenswap", "reenact"], faces=6, seed=1).set_index("generator")
    assert list(table.columns) == ["fine", "mid", "coarse", "orient", "angle", "n"]
    assert (table["n"] == 6).all()
    sbi, eig, reenact = table.loc["sbi"], table.loc["eigenswap"], table.loc["reenact"]
    assert sbi["fine"] < sbi["mid"] < 0
    assert eig["fine"] - eig["mid"] > sbi["fine"] - sbi["mid"] + 0.15
    assert eig["fine"] > 0.5 * sbi["fine"]
    assert eig["mid"] < reenact["mid"] - 0.05
    assert reenact["mid"] > 0.5 * sbi["mid"]


def test_cli_prints_and_writes_the_profile(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "synth-bands", "--generators", "sbi", "--faces", "3", "--size", "96",
              "--out", str(tmp_path / "bands.csv")])
    assert exc.value.code == 0
    assert "sbi" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "bands.csv")["generator"]) == ["sbi"]


@pytest.mark.parametrize(("args", "needle"), [(["--generators", "nope"], "nope"),
                                              (["--faces", "1"], "--faces")])
def test_cli_bad_options_exit_2_with_the_reason(args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "synth-bands", *args])
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err
