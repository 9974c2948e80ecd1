"""The report's chart as SVG: incidents by week over the last 12 weeks, stacked by UN category."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from reports.categories import UN_CATEGORIES
from reports.weekly.figures import WeekBar
from reports.weekly.map import CATEGORY_COLOURS


def weekly_bars(weeks: Sequence[WeekBar], lang: str, width: float = 520.0) -> str:
    height, top, bottom, left = 100.0, 10.0, 20.0, 26.0
    plot_h = height - top - bottom
    peak = max((w.total for w in weeks), default=0)
    peak = max(peak, 1)
    step = (width - left - 4) / max(len(weeks), 1)
    bar_w = step * 0.7
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img">',
        f'<line x1="{left}" y1="{top + plot_h:.1f}" x2="{width - 2:.0f}" y2="{top + plot_h:.1f}" '
        'stroke="#333" stroke-width="0.6"/>',
        f'<text x="{left - 4}" y="{top + 6:.1f}" font-size="7" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h:.1f}" font-size="7" text-anchor="end">0</text>',
    ]
    for k, week in enumerate(weeks):
        x = left + k * step + (step - bar_w) / 2
        y = top + plot_h
        for code in UN_CATEGORIES:
            n = week.counts.get(code, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{CATEGORY_COLOURS[code]}"/>'
            )
        if week.total:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 2:.1f}" font-size="7" '
                f'text-anchor="middle">{week.total}</text>'
            )
        day = week.start.strftime("%d/%m") if lang == "fr" else week.start.strftime("%m-%d")
        out.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 8:.1f}" font-size="7" '
            f'text-anchor="middle">{escape(day)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


__all__ = ["weekly_bars"]
