"""The Graph tab's picture: at fan-out 40 on the demo KG's densest entities (and on a star of 40
neighbours with long names) no two labels overlap, no label covers a node, no arrow runs
through a node it does not join, everything lies inside the view box, the text keeps one
size (a 2-node picture is not blown up), and the same facts in any order give the same
picture. Before, labels and nodes overlapped (born_in over marriage_year, 1946-06-14 over
University of Pennsylvania), a 2-node picture was drawn with 40-pixel text, and arrows from
a hub of 40 ran through its other neighbours."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import Fact, Triple
from knowsync import KnowSync
from ui._web_render import _VIEW_W, _layout, _overlap, graph_svg

DEMO_KG = Path(__file__).resolve().parents[2] / "datasets" / "oneedit" / "kg.csv"
DENSEST = ["Barack_Obama", "Donald_Trump", "Michelle_Obama", "Melania_Trump", "America"]


@pytest.fixture(scope="module")
def demo() -> Iterator[KnowSync]:
    ks = KnowSync("memory://")
    ks.import_file(DEMO_KG, user="demo")
    yield ks
    ks.close()


def _star(neighbours: int, leaves: int) -> list[Fact]:
    """A hub with ``neighbours`` long-named neighbours, every fourth with ``leaves`` more."""
    rels = ["member_of_the_board", "child", "spouse", "educated_at", "country_of_citizenship"]
    facts = []
    for i in range(neighbours):
        name = f"Neighbour_Number_{i}_" + "x" * (i % 9)
        facts.append(Fact(Triple("Hub_Entity", rels[i % len(rels)], name)))
        if i % 4 == 0:
            facts += [
                Fact(Triple(name, rels[(i + j) % len(rels)], f"Leaf_{i}_{j}"))
                for j in range(leaves)
            ]
    return facts


def _assert_readable(center: str, facts: list[Fact]) -> None:
    pic = _layout(center, facts)
    assert pic.clear
    nodes = [pic.node_box(n) for n in sorted(pic.pos)]
    labels = [e.label_box for e in pic.edges]
    for a, b in itertools.combinations(nodes, 2):
        assert not _overlap(a, b), (a, b)
    for a, b in itertools.combinations(labels, 2):
        assert not _overlap(a, b), (a, b)
    for label in labels:
        assert not any(_overlap(label, node) for node in nodes)
    # no arrow runs through a node it does not join (sampled finely along each curve)
    for edge in pic.edges:
        (sx, sy), (cx, cy), (ex, ey) = edge.start, edge.control, edge.end
        ends = {edge.fact.subject, edge.fact.object}
        for name in sorted(set(pic.pos) - ends):
            x0, y0, x1, y1 = pic.node_box(name)
            for i in range(1, 200):
                t = i / 200
                bx = (1 - t) ** 2 * sx + 2 * t * (1 - t) * cx + t * t * ex
                by = (1 - t) ** 2 * sy + 2 * t * (1 - t) * cy + t * t * ey
                assert not (x0 + 1 < bx < x1 - 1 and y0 + 1 < by < y1 - 1), (edge.fact, name)
    vx, vy, vw, vh = pic.view
    for x0, y0, x1, y1 in nodes + labels:
        assert vx <= x0 and x1 <= vx + vw and vy <= y0 and y1 <= vy + vh
    # the view is as wide as always (text keeps its size), a little wider at most
    assert _VIEW_W <= vw <= 1.3 * _VIEW_W


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("name", DENSEST)
def test_the_densest_demo_entities_draw_without_overlaps(
    demo: KnowSync, name: str, hops: int
) -> None:
    facts = demo.neighbourhood(name, hops=hops, fanout=40)
    assert len(facts) >= 2
    _assert_readable(name, facts)


@pytest.mark.parametrize("leaves", [0, 2])
def test_forty_long_named_neighbours_draw_without_overlaps(leaves: int) -> None:
    _assert_readable("Hub_Entity", _star(40, leaves))


def test_a_two_node_picture_keeps_normal_text() -> None:
    facts = [Fact(Triple("Barack_Obama", "born_in", "Honolulu"))]
    svg = graph_svg("Barack_Obama", facts)
    view = re.search(r'viewBox="(\S+) (\S+) (\S+) (\S+)"', svg)
    assert view is not None
    width, height = float(view.group(3)), float(view.group(4))
    assert width == pytest.approx(_VIEW_W, abs=1)  # not the width of its two nodes
    assert height < 400
    sizes = {int(s) for s in re.findall(r'font-size="(\d+)"', svg)}
    assert sizes and min(sizes) >= 12 and max(sizes) <= 14


def test_the_picture_does_not_depend_on_fact_order(demo: KnowSync) -> None:
    facts = demo.neighbourhood("Donald_Trump", hops=2, fanout=40)
    assert graph_svg("Donald_Trump", facts) == graph_svg("Donald_Trump", facts[::-1])


def test_arrows_and_their_labels_name_their_fact() -> None:
    facts = [Fact(Triple("A<b>", "likes", 'C"d'))]
    svg = graph_svg("A<b>", facts)
    keys = re.findall(r'data-fact="([^"]*)"', svg)
    assert len(keys) == 2  # the arrow and its label
    unescaped = {k.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">") for k in keys}
    assert [json.loads(k) for k in unescaped] == [["A<b>", "likes", 'C"d']]
    assert "<b>" not in svg
