"""The one chart library (core.charts): stacking, the scale, labels, the text alternatives."""

import pytest
from django.template.loader import render_to_string

from core.charts import PALETTE, Column, Series, StackedBarChart, nice_ceiling, palette_series

A = Series(key="a", label="alpha", colour="#111111")
B = Series(key="b", label="beta", colour="#222222")


def test_segments_stack_bottom_up_in_the_order_of_the_series_and_skip_zeros():
    chart = StackedBarChart.build(
        [Column(label="1", title="day 1", counts={"b": 2, "a": 1}), Column(label="2", title="day 2", counts={"a": 0})],
        [A, B],
        title="t",
        width=112,
        height=148,  # plot: x 48..100, y 12..112 (100 units tall)
    )

    first, second = chart.bars
    assert (first.title, first.colour, first.height, first.y) == ("day 1: 1 alpha", "#111111", 25.0, 87.0)
    assert (second.title, second.height, second.y) == ("day 1: 2 beta", 50.0, 37.0)
    assert first.x == second.x == 51.25 and first.width == 19.5
    assert chart.maximum == 3
    assert chart.gridlines == [(112, 0), (87.0, 1), (62.0, 2), (37.0, 3), (12.0, 4)]
    assert chart.table_rows == [(chart.columns[0], [1, 2], 3), (chart.columns[1], [0, 0], 0)]


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 4), (4, 4), (5, 8), (9, 20), (21, 40), (41, 80), (81, 200), (2001, 4000)]
)
def test_the_scale_is_a_nice_ceiling_so_quarter_gridlines_are_whole(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_labels_are_thinned_to_about_max_labels():
    columns = [Column(label=str(i), title=str(i), counts={"a": 1}) for i in range(30)]

    chart = StackedBarChart.build(columns, [A], title="t", max_labels=10)

    assert [label for _, label in chart.labels] == [str(i) for i in range(0, 30, 3)]


def test_the_description_says_the_figures_in_words_and_an_empty_chart_says_so():
    busy = StackedBarChart.build(
        [Column(label="1", title="Mon", counts={"a": 2}), Column(label="2", title="Tue", counts={"a": 5, "b": 1})],
        [A, B],
        title="t",
    )
    empty = StackedBarChart.build([Column(label="1", title="Mon")], [A], title="t")

    assert busy.description == "2 bars, from Mon to Tue, 8 in all; the highest is Tue with 6."
    assert (empty.is_empty, empty.description, empty.bars) == (True, "1 bar, all empty.", [])


def test_palette_series_colour_keys_in_order_and_wrap_around():
    series = palette_series([f"k{i}" for i in range(len(PALETTE) + 1)])

    assert [kind.colour for kind in series[:2]] == list(PALETTE[:2])
    assert series[-1].colour == PALETTE[0] and series[-1].label == f"k{len(PALETTE)}"


def test_the_template_draws_an_accessible_svg_with_tooltips_and_a_legend():
    chart = StackedBarChart.build([Column(label="1", title="Mon", counts={"a": 2})], [A, B], title="Things & stuff")

    html = render_to_string("core/stacked_bar_chart.html", {"chart": chart, "chart_id": "things"})

    assert 'id="things" class="chart" role="img" aria-labelledby="things-title things-desc"' in html
    assert '<title id="things-title">Things &amp; stuff</title>' in html
    assert '<desc id="things-desc">1 bar, from Mon to Mon, 2 in all; the highest is Mon with 2.</desc>' in html
    assert "<title>Mon: 2 alpha</title>" in html
    assert html.count('class="bar"') == 1
    assert ">alpha</li>" in html and ">beta</li>" in html
