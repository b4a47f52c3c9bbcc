import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from fakescope.report import Report, Section  # noqa: E402


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_sections_accumulate_and_relative_paths_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rep = Report("runs/x", title="t")  # relative run folder, as `--out runs/x` gives
    fig = _png(tmp_path / "runs" / "x" / "figures" / "a.png")
    rep.add(Section("b", "Second", tables={"t": pd.DataFrame({"m": [1.5]})},
                    figures=["runs/x/figures/a.png"], numbers={"v": float("nan")}, order=20))
    rep.add(Section("a", "First", text="hello\n\nworld", figures=[str(fig)], order=10))
    html = (tmp_path / "runs" / "x" / "report.html").read_text()
    assert "missing figure" not in html
    assert html.count("data:image/png;base64") == 2
    assert html.index("First") < html.index("Second")
    numbers = json.loads((tmp_path / "runs" / "x" / "report.json").read_text())
    assert numbers["b"]["numbers"] == {"v": None}  # NaN is written as null
    assert (tmp_path / "runs" / "x" / "tables" / "b__t.csv").is_file()
