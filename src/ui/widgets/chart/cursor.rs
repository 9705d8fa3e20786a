//! The cursor: a vertical marker through the price plot and every sub-pane at the column of
//! the bucket under it.

use ratatui::buffer::Buffer;
use ratatui::style::{Modifier, Style};

use super::Plot;
use super::layout::Region;
use crate::ui::theme::GlyphKind;

/// Marks the cursor's column: a dotted line through empty cells, a highlight behind drawn ones.
pub fn draw(p: &Plot, regions: &[Region], buf: &mut Buffer) {
    let Some(slot) = p.opts.cursor_ms.and_then(|t| p.x.slot(t)) else {
        return;
    };
    let col = p.x.center(slot);
    let line = if p.glyphs.kind == GlyphKind::Ascii {
        ":"
    } else {
        "┊"
    };
    let highlight = if p.theme.is_mono() {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().bg(p.theme.select_unfocused)
    };
    for r in regions {
        if col >= r.plot.width {
            continue;
        }
        for y in r.plot.top()..r.plot.bottom() {
            let Some(cell) = buf.cell_mut((r.plot.x + col, y)) else {
                continue;
            };
            if cell.symbol() == " " {
                cell.set_symbol(line).set_style(p.theme.muted());
            } else {
                cell.set_style(highlight);
            }
        }
    }
}
