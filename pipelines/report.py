"""`np6 report`: one self-contained HTML file built from the SQL models, on any SQL destination.

It reads only the views `sources.np6.models` creates (`engagement_daily`, `engagement_by_action`,
`link_clicks`, `deliverability_by_domain`, `open_delay`) through the pipeline's SQL client, so it
works wherever the load works. The charts are drawn by matplotlib as SVG and written inline: the
file needs no network, no script and no font download (glyphs are SVG paths).

Why matplotlib: it is a long-kept library with an SVG backend that needs nothing else at run
time. Vega-Lite (through Altair) renders in a browser with JavaScript, or offline only through
`vl-convert`, a bundled JavaScript engine that is not on every package index.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

HUMAN, ROBOT, CLICK, BOUNCE = "#2f6fbf", "#c9853a", "#3f9b5a", "#b23b3b"


class Section(NamedTuple):
    """One part of the report: a title, a sentence saying what it shows, a chart and/or a table."""

    title: str
    note: str
    chart: str = ""
    table: str = ""


def _figures(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows with Decimal values as floats (PostgreSQL answers `numeric`)."""
    return [[float(v) if type(v).__name__ == "Decimal" else v for v in row] for row in rows]


def _svg(figure: Any) -> str:
    """A matplotlib figure as inline SVG (no XML prologue, stable element ids)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(width: float = 9.0, height: float = 3.2) -> tuple[Any, Any]:
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    rcParams["svg.hashsalt"] = "np6-report"  # same data, same file
    figure = Figure(figsize=(width, height))
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    return figure, axes


def _days(axes: Any, days: Sequence[Any]) -> None:
    """Date ticks on the x axis: whole days (at most about ten), labelled as dates."""
    from matplotlib.dates import DateFormatter, DayLocator

    axes.xaxis.set_major_locator(DayLocator(interval=max(1, len(days) // 10)))
    axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; numbers right-aligned, rates as percentages (columns named `...rate`)."""
    def cell(name: str, value: Any) -> str:
        if value is None:
            return "<td class=num>–</td>"
        if "rate" in name and isinstance(value, float):
            return f"<td class=num>{value:.1%}</td>"
        if isinstance(value, float):
            return f"<td class=num>{value:,.1f}</td>"
        if isinstance(value, int):
            return f"<td class=num>{value:,}</td>"
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(h, v) for h, v in zip(header, row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Report:
    """The report's queries and charts over one dataset (`query` runs SQL, `{ds}` is the dataset)."""

    def __init__(self, query: Any, dataset: str, since: date | None = None) -> None:
        self.query, self.dataset, self.since = query, dataset, since

    def rows(self, sql: str) -> list[list[Any]]:
        return _figures(self.query(sql.replace("{ds}", self.dataset)))

    def _day_filter(self, column: str = "day") -> str:
        return f"WHERE {column} >= DATE '{self.since.isoformat()}'" if self.since else ""

    def daily(self) -> list[list[Any]]:
        return self.rows(
            "SELECT day, sum(sends), sum(human_opens), sum(robot_opens), sum(human_clicks), "
            "sum(hard_bounces), sum(soft_bounces) FROM {ds}.engagement_daily "
            f"{self._day_filter()} GROUP BY day ORDER BY day")  # fmt: skip

    def headline(self, daily: list[list[Any]]) -> str:
        totals = [sum(int(r[i] or 0) for r in daily) for i in range(1, 7)]
        sends, opens, robots, clicks, hard, soft = totals
        rate = self.rows("SELECT sum(unique_human_openers), sum(sends) FROM {ds}.engagement_by_action")[0]
        open_rate = f"{rate[0] / rate[1]:.1%}" if rate[1] else "–"
        cards = [("Sends", f"{sends:,}"), ("Human opens", f"{opens:,}"), ("Robot opens", f"{robots:,}"),
                 ("Human clicks", f"{clicks:,}"), ("Bounces", f"{hard + soft:,}"),
                 ("Unique human open rate", open_rate)]  # fmt: skip
        return "".join(f"<div class=card><div class=value>{v}</div><div class=label>{k}</div></div>"
                       for k, v in cards)  # fmt: skip

    def over_time(self, daily: list[list[Any]]) -> Section:
        figure, axes = _figure()
        days = [r[0] for r in daily]
        for index, label, colour in ((1, "sends", "#555555"), (2, "human opens", HUMAN), (4, "human clicks", CLICK)):
            axes.plot(days, [r[index] for r in daily], label=label, color=colour, linewidth=2)
        axes.legend(frameon=False)
        _days(axes, days)
        return Section("Sends, opens and clicks per day", "Events per UTC day; opens and clicks are human only.",
                       _svg(figure))

    def humans_and_robots(self, daily: list[list[Any]]) -> Section:
        figure, axes = _figure()
        days = [r[0] for r in daily]
        humans, robots = [r[2] for r in daily], [r[3] for r in daily]
        axes.bar(days, humans, label="human opens", color=HUMAN)
        axes.bar(days, robots, bottom=humans, label="robot opens (is_robot)", color=ROBOT)
        axes.legend(frameon=False)
        _days(axes, days)
        share = sum(robots) / (sum(robots) + sum(humans)) if sum(robots) + sum(humans) else 0
        return Section("Human vs robot opens", f"Robot opens are {share:.1%} of all opens; every human figure "
                       "leaves them out.", _svg(figure))

    def top_actions(self) -> Section:
        rows = self.rows(
            "SELECT action_id, action_name, channel, sends, unique_human_openers, unique_human_clickers, "
            "robot_opens, human_open_rate, click_rate, click_to_open_rate FROM {ds}.engagement_by_action "
            "ORDER BY sends DESC, action_id LIMIT 10")  # fmt: skip
        figure, axes = _figure(height=3.0)
        labels = [str(r[0]) for r in rows][::-1]  # ids: names may hold glyphs no chart font has
        axes.barh(labels, [r[3] for r in rows][::-1], color="#999999", label="sends")
        axes.barh(labels, [r[4] for r in rows][::-1], color=HUMAN, label="unique human openers")
        axes.barh(labels, [r[5] for r in rows][::-1], color=CLICK, label="unique human clickers")
        axes.legend(frameon=False, loc="lower right")
        header = ["action", "name", "channel", "sends", "human openers", "human clickers", "robot opens",
                  "open rate", "click rate", "click-to-open rate"]  # fmt: skip
        return Section("Top actions", "The ten actions with most sends (all loaded data).", _svg(figure),
                       _table(header, rows))

    def top_links(self) -> Section:
        rows = self.rows(
            "SELECT action_id, link_label, link_url, human_clicks, unique_human_clickers, robot_clicks "
            "FROM {ds}.link_clicks ORDER BY human_clicks DESC, action_id, link_url LIMIT 10")  # fmt: skip
        header = ["action", "label", "url", "human clicks", "human clickers", "robot clicks"]
        return Section("Top links", "The ten links with most human clicks (all loaded data).",
                       table=_table(header, rows))

    def bounces(self, daily: list[list[Any]]) -> Section:
        figure, axes = _figure()
        days = [r[0] for r in daily]
        hard, soft = [r[5] for r in daily], [r[6] for r in daily]
        axes.bar(days, hard, label="hard", color=BOUNCE)
        axes.bar(days, soft, bottom=hard, label="soft", color="#e3a0a0")
        axes.legend(frameon=False)
        _days(axes, days)
        return Section("Bounces", f"{int(sum(hard)):,} hard and {int(sum(soft)):,} soft bounces, per day.",
                       _svg(figure))

    def domains(self) -> Section:
        rows = self.rows(
            "SELECT domain, sum(sends) AS sends, sum(hard_bounces), sum(soft_bounces), "
            "CASE WHEN sum(sends) > 0 THEN CAST(sum(hard_bounces) + sum(soft_bounces) AS DOUBLE PRECISION) "
            f"/ sum(sends) END AS bounce_rate FROM {{ds}}.deliverability_by_domain {self._day_filter()} "
            "GROUP BY domain ORDER BY sends DESC, domain LIMIT 10")  # fmt: skip
        figure, axes = _figure(height=3.0)
        axes.barh([r[0] for r in rows][::-1], [r[4] or 0 for r in rows][::-1], color=BOUNCE)
        axes.set_xlabel("bounce rate")
        axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
        header = ["domain", "sends", "hard bounces", "soft bounces", "bounce rate"]
        return Section("Deliverability by domain", "The ten recipient domains with most email sends.",
                       _svg(figure), _table(header, rows))

    def open_delay(self) -> Section:
        rows = self.rows("SELECT action_id, openers_measured, median_seconds / 3600.0, p90_seconds / 3600.0 "
                         "FROM {ds}.open_delay ORDER BY openers_measured DESC, action_id LIMIT 10")
        figure, axes = _figure(height=3.0)
        labels = [str(r[0]) for r in rows]
        positions = range(len(rows))
        axes.bar([p - 0.2 for p in positions], [r[2] for r in rows], width=0.4, label="median", color=HUMAN)
        axes.bar([p + 0.2 for p in positions], [r[3] for r in rows], width=0.4, label="p90", color="#9dbbe0")
        axes.set_xticks(list(positions), labels)
        axes.set_ylabel("hours")
        axes.legend(frameon=False)
        header = ["action", "openers measured", "median (h)", "p90 (h)"]
        return Section("Open delay", "Hours from a target's first send to its first human open.",
                       _svg(figure), _table(header, rows))

    def html(self) -> str:
        daily = self.daily()
        sections = [self.over_time(daily), self.humans_and_robots(daily), self.top_actions(), self.top_links(),
                    self.bounces(daily), self.domains(), self.open_delay()]  # fmt: skip
        span = f"{daily[0][0]} to {daily[-1][0]}" if daily else "no events"
        body = "".join(
            f"<section><h2>{html.escape(s.title)}</h2><p>{html.escape(s.note)}</p>{s.chart}{s.table}</section>"
            for s in sections
        )
        return PAGE.format(span=html.escape(str(span)), dataset=html.escape(self.dataset),
                           headline=self.headline(daily), body=body)  # fmt: skip


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>NP6 engagement report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; background: #fff; }}
h1 {{ margin-bottom: 0.2rem; }} h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #ddd; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 1rem; margin-top: 1.2rem; }}
.card {{ background: #f3f6fa; border-radius: 6px; padding: 0.8rem 1.2rem; min-width: 9rem; }}
.value {{ font-size: 1.6rem; font-weight: 600; }} .label {{ color: #555; }}
table {{ border-collapse: collapse; margin-top: 0.8rem; font-size: 0.9rem; }}
td, th {{ padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: left; }}
td.num {{ text-align: right; }} svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>NP6 engagement report</h1>
<p>Dataset <b>{dataset}</b>, events from {span}. Human figures leave out robot hits (<code>is_robot</code>).</p>
<div class=cards>{headline}</div>
{body}
</body></html>
"""


def write_report(pipeline: Any, out: str, since: date | None = None) -> str:
    """Build the report of `pipeline`'s dataset from its models and write it to `out`; its path."""
    from pathlib import Path

    with pipeline.sql_client() as client:
        report = Report(lambda sql: client.execute_sql(sql), client.dataset_name, since)
        text = report.html()
    path = Path(out).resolve()
    path.write_text(text, encoding="utf-8")
    return str(path)
