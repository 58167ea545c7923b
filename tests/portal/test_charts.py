"""The dashboards' SVG charts (portal.charts): well-formed, accessible, escaped, linked, numbers as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from portal import charts

SVG = "{http://www.w3.org/2000/svg}"


def _tree(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # well-formed XML, or this raises


def _texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (240, 250), (1_000_001, 2_000_000)]
)
def test_nice_ceiling(value, expected):
    assert charts.nice_ceiling(value) == expected


def test_a_bar_chart_is_titled_labelled_linked_and_escaped():
    chart = charts.bar_chart(
        chart_id="c1",
        title="按企业",
        desc="缺少实名的卡",
        bars=[
            charts.Bar("<script>公司</script>", 12, href="/cards/?realname=missing&enterprise=a"),
            charts.Bar("北京物联科技有限公司第二分公司", 3),
        ],
    )
    root = _tree(chart)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "按企业" and root.find(f"{SVG}desc").text == "缺少实名的卡"
    assert "<script>" not in str(chart.svg)
    links = list(root.iter(f"{SVG}a"))
    assert [link.get("href") for link in links] == ["/cards/?realname=missing&enterprise=a"]  # only the linked bar
    texts = _texts(root)
    assert "12" in texts and "3" in texts  # the numbers as text
    # A long name is cut to fit its column; the whole name stays in the mark's title.
    assert any(text.endswith("…") for text in texts)
    assert "北京物联科技有限公司第二分公司: 3" in [t.text for t in root.iter(f"{SVG}title")]
    widths = [float(rect.get("width")) for rect in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(4 * widths[1])  # lengths in proportion


def test_a_stacked_bar_chart_draws_only_its_non_zero_segments_and_shows_the_total():
    chart = charts.stacked_bar_chart(
        chart_id="c2",
        title="t",
        desc="d",
        stacks=[
            charts.Stack(
                "缺少实名",
                (charts.Bar("库存", 4, href="/a", tone="0"), charts.Bar("待实名", 0, href="/b", tone="warn")),
                href="/all",
            )
        ],
        legend=[("库存", "0"), ("待实名", "warn")],
    )
    root = _tree(chart)
    assert [link.get("href") for link in root.iter(f"{SVG}a")] == ["/a", "/all"]
    assert "4" in _texts(root)
    assert chart.legend == (("库存", "0"), ("待实名", "warn"))


def test_an_empty_chart_says_so():
    chart = charts.stacked_bar_chart(chart_id="c3", title="t", desc="d", stacks=[], legend=[], empty="还没有卡。")
    assert "还没有卡。" in _texts(_tree(chart))


def test_columns_and_lines_have_axes_with_labels():
    columns = charts.column_chart(
        chart_id="c4",
        title="t",
        desc="d",
        bars=[charts.Bar(f"2026-11-{day:02d}", day % 3, href=f"/i?day={day}") for day in range(1, 31)],
        x_label="日期",
        y_label="导入数",
    )
    root = _tree(columns)
    texts = _texts(root)
    assert "日期" in texts and "导入数" in texts and "2" in texts  # axis labels and the y axis' top
    assert len(list(root.iter(f"{SVG}a"))) == 20  # the days with an import (a zero column links nowhere)

    lines = charts.line_chart(
        chart_id="c5",
        title="t",
        desc="d",
        x_labels=["09-01", "09-08", "09-15"],
        series=[charts.Series("通过", (None, 80.0, 90.5), tone="good")],
        x_label="周",
        y_label="占比",
        y_max=100,
        unit="%",
    )
    root = _tree(lines)
    assert len(list(root.iter(f"{SVG}circle"))) == 2  # no dot where there was nothing to compare
    assert root.find(f"{SVG}polyline") is not None and "100%" in _texts(root)
    assert "09-15 · 通过: 90.5%" in [t.text for t in root.iter(f"{SVG}title")]
