"""Reading series: layouts, time parsing, frequencies, gaps, and every bad input as a one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.series import BUILTIN_SERIES, check_lengths, load_series, synthetic_series
from rnnkit.data.series_time import as_grid, calendar_features, from_grid, parse_freq, parse_time
from rnnkit.errors import UserError


def write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    p = tmp_path / name
    p.write_text(text.strip() + "\n", encoding="utf-8")
    return p


def test_builtins_load_with_their_sources() -> None:
    air = load_series("airline")
    y = air.series[0].values
    assert (len(y), y.sum(), air.freq, air.season) == (144, 40363.0, "M", 12)
    assert air.times(air.series[0])[:2] == ["1949-01", "1949-02"]
    co2 = load_series("co2")
    assert (len(co2.series[0]), co2.freq, co2.times(co2.series[0])[0]) == (526, "M", "1958-03")
    sun = load_series("sunspots")
    assert (len(sun.series[0]), sun.freq, sun.season) == (309, "Y", 11)
    assert sun.times(sun.series[0])[-1] == "2008"
    assert set(BUILTIN_SERIES) == {"airline", "co2", "sunspots", "synthetic"}


def test_synthetic_is_seeded() -> None:
    a, b, c = (
        synthetic_series(5, 80, seed=3),
        synthetic_series(5, 80, seed=3),
        synthetic_series(5, 80, seed=4),
    )
    assert np.array_equal(a.series[4].values, b.series[4].values)
    assert not np.array_equal(a.series[4].values, c.series[4].values)
    assert a.season == 10 and a.freq == "step"


def test_wide_layout_one_series_per_column(tmp_path: Path) -> None:
    p = write(tmp_path, "date,a,b\n2020-01-01,1,10\n2020-01-02,2,20\n2020-01-03,4,30")
    d = load_series(p)
    assert d.freq == "D" and d.names() == ["a", "b"]
    assert d.series[1].values.tolist() == [10, 20, 30]


def test_target_and_covariates(tmp_path: Path) -> None:
    p = write(
        tmp_path, "month,sales,price,promo\n2020-01,5,1.0,0\n2020-02,6,1.1,1\n2020-03,8,1.2,0"
    )
    d = load_series(p, target="sales", covariates=["price", "promo"])
    assert d.names() == ["sales"] and d.covariate_names == ["price", "promo"]
    assert d.series[0].covariates.shape == (3, 2)


def test_long_layout(tmp_path: Path) -> None:
    text = "id,week,value\nx,2021-01-04,1\nx,2021-01-11,2\nx,2021-01-18,4\ny,2021-01-04,7\ny,2021-01-11,9\ny,2021-01-18,8"
    d = load_series(write(tmp_path, text), series_id="id")
    assert d.freq == "W" and d.names() == ["x", "y"]
    assert d.series[1].start == d.series[0].start


def test_gaps_and_missing_values_are_interpolated(tmp_path: Path) -> None:
    # 2020-03 is absent and 2020-05 is empty: both filled on the line between neighbours
    p = write(tmp_path, "month,v\n2020-01,1\n2020-02,2\n2020-04,4\n2020-05,\n2020-06,6\n2020-07,NA")
    d = load_series(p)
    assert d.series[0].values.tolist() == [1, 2, 3, 4, 5, 6]  # trailing NA dropped
    assert d.filled == 2
    with pytest.raises(UserError, match="missing timestamps"):
        load_series(p, missing="error")


def test_no_time_column_means_steps(tmp_path: Path) -> None:
    d = load_series(write(tmp_path, "v\n3\n1\n2"))
    assert d.freq == "step" and d.times(d.series[0]) == ["0", "1", "2"]


def test_given_frequency_and_aliases(tmp_path: Path) -> None:
    p = write(tmp_path, "t,v\n2020-01-01,1\n2020-04-01,2\n2020-07-01,3")
    assert load_series(p).freq == "Q"
    assert load_series(p, freq="monthly").series[0].values.tolist() == [
        1,
        1 + 1 / 3,
        1 + 2 / 3,
        2,
        2 + 1 / 3,
        2 + 2 / 3,
        3,
    ]


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        (
            "month,v\n2020-01,1\n2020-02,abc\n2020-03,3",
            {},
            r"row 3, column 'v': 'abc' is not a number",
        ),
        ("month,v\n2020-01,1\n2020-03,2\n2020-02,3", {}, r"row 4: timestamps not increasing"),
        ("month,v\n2020-01,1\n2020-02,2\n2020-02,3", {}, r"row 4: duplicate timestamp"),
        (
            "month,v,c\n2020-01,1,1\n2020-02,2,\n2020-03,3,1",
            {"covariates": ["c"]},
            r"row 3, column 'c': covariate is missing",
        ),
        ("month,v\n2020-01,4\n2020-02,4\n2020-03,4", {}, r"series 'v' is constant"),
        (
            "month,v\n2020-01,1\n2020-02,2",
            {"freq": "fortnightly"},
            r"unknown frequency 'fortnightly'",
        ),
        ("month,v\n2020-01,1\n2020-02,2", {"target": "w"}, r"no column 'w' for --target"),
        ("month,v\n2020-01,1\nfoo,2", {}, r"row 3, column 'month': 'foo' is not a date"),
        ("month,v\n2020-01,1\n2020-02", {}, r"row 3 has 1 fields"),
    ],
)
def test_bad_input_is_one_line_naming_the_thing(
    tmp_path: Path, text: str, kwargs: dict, match: str
) -> None:
    with pytest.raises(UserError, match=match) as e:
        load_series(write(tmp_path, text), **kwargs)
    assert "\n" not in str(e.value)


def test_unknown_builtin_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        load_series(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="unknown frequency"):
        parse_freq("X")


def test_short_series_names_it_and_the_lengths() -> None:
    d = synthetic_series(2, 30)
    with pytest.raises(
        UserError, match=r"series 's0' has 30 points; context 24 \+ horizon 12 needs 36"
    ):
        check_lengths(d, 24, 12)
    with pytest.raises(UserError, match="--horizon 12 is longer than --holdout 6"):
        check_lengths(d, 4, 12, 6)


def test_time_grid_round_trips() -> None:
    for text, freq in [
        ("1958-01", "M"),
        ("2001-05-31", "D"),
        ("2001-05-31 13:00", "H"),
        ("1700", "Y"),
        ("2021-04", "Q"),
    ]:
        t = parse_time(text)
        assert t is not None
        g = as_grid(t, freq)
        assert as_grid(parse_time(from_grid(g, freq)), freq) == g  # type: ignore[arg-type]
    # 1970-01-05 is a Monday: day-of-week one-hot index 0
    assert calendar_features(np.array([4]), "D").argmax() == 0
    assert calendar_features(np.array([0]), "Y").shape == (1, 0)
