"""A row-cursor table whose columns always show their values whole.

Textual's ``DataTable`` sizes a column at its first paint and cuts longer values written later
with ``update_cell`` (no ellipsis) unless told ``update_width=True``, and it scrolls sideways
when the columns do not fit. ``RowTable`` does neither: every update re-measures its column,
and when the table is narrower than its columns it drops whole columns, least important first
(as k9s does), instead of cutting values or scrolling. ``Home``/``End`` go to the first/last
row (``DataTable`` scrolls sideways on them in row mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.cells import cell_len
from textual.binding import Binding
from textual.widgets import DataTable

from lmtui.tui.widgets import cursor_row_key


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its key, header label and priority (0 is kept longest; higher ones go first)."""

    key: str
    label: str
    priority: int


def fit_columns(specs: Sequence[ColumnSpec], widths: dict[str, int], available: int, padding: int = 1) -> list[str]:
    """The keys of ``specs`` (in their order) that fit in ``available`` cells.

    Args:
        specs: the columns in display order.
        widths: each column's widest value or label, in terminal cells.
        available: the table's width in cells.
        padding: the cell padding on each side of a column (``DataTable.cell_padding``).

    Columns are dropped highest priority number first until the rest fit; the column of
    priority 0 is always kept.
    """
    shown = list(specs)
    while len(shown) > 1 and sum(widths[s.key] + 2 * padding for s in shown) > available:
        shown.remove(max(shown, key=lambda s: s.priority))
    return [s.key for s in shown]


class RowTable(DataTable):
    """A ``DataTable`` of rows over ``ColumnSpec`` columns, showing only the columns that fit whole.

    Fill it with :meth:`show`; it rebuilds itself when the rows, or the columns that fit, change,
    and otherwise updates only the cells that changed, re-measuring their columns.
    """

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, specs: Sequence[ColumnSpec], **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.specs = list(specs)
        self.shown_columns: list[str] = []
        self.hidden_columns: list[str] = []
        self.rows_shown: dict[str, dict[str, object]] = {}

    def fit(self, rows: dict[str, dict[str, object]]) -> list[str]:
        """The keys of the columns that fit whole at the table's width with these rows; a column
        no row has a cell for (an optional one, such as the runs' queue place) is not shown."""
        widths = {s.key: cell_len(s.label) for s in self.specs}
        for cells in rows.values():
            for key, value in cells.items():
                widths[key] = max(widths[key], cell_len(str(value)))
        present = {key for cells in rows.values() for key in cells}
        specs = [s for s in self.specs if s.key in present or not rows]
        available = (self.size.width or self.app.size.width) - self.styles.scrollbar_size_vertical
        return fit_columns(specs, widths, available, self.cell_padding)

    def show(self, rows: dict[str, dict[str, object]]) -> None:
        """Show ``rows`` (row key -> column key -> cell, in order), keeping the cursor on its row."""
        columns = self.fit(rows)
        present = {key for cells in rows.values() for key in cells}
        self.hidden_columns = [s.label for s in self.specs if s.key not in columns and s.key in present]
        if columns != self.shown_columns or list(rows) != list(self.rows_shown):
            self._rebuild(columns, rows)
        else:
            for row, cells in rows.items():
                old = self.rows_shown[row]
                for key in columns:
                    if not same_cell(cells[key], old[key]):
                        self.update_cell(row, key, cells[key], update_width=True)
        self.rows_shown = rows

    def _rebuild(self, columns: list[str], rows: dict[str, dict[str, object]]) -> None:
        current = cursor_row_key(self)
        rebuild_columns = columns != self.shown_columns
        self.clear(columns=rebuild_columns)
        if rebuild_columns:
            labels = {s.key: s.label for s in self.specs}
            for key in columns:
                self.add_column(labels[key], key=key)
        for row, cells in rows.items():
            self.add_row(*(cells[key] for key in columns), key=row)
        self.shown_columns = columns
        keys = list(rows)
        if current in keys:
            self.move_cursor(row=keys.index(current), animate=False)

    def on_resize(self) -> None:
        """Refit the columns to the new width."""
        if self.rows_shown or self.shown_columns:
            self.show(self.rows_shown)


def same_cell(new: object, old: object) -> bool:
    """Whether two cells draw the same (text and, for rich ``Text``, style)."""
    return str(new) == str(old) and getattr(new, "style", None) == getattr(old, "style", None)
