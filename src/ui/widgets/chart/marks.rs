//! Markers under the price plot at the times a rule would have fired (the rule form's
//! backtest of the rule being typed): a `▲` on the plot's bottom row in the column of each
//! fire's bucket, over whatever is drawn there.

use ratatui::buffer::Buffer;

use super::Plot;
use super::layout::Region;
use crate::domain::TsMs;
use crate::ui::theme::GlyphKind;

/// Draws a marker for each of `times` inside the window; returns how many were drawn.
pub fn draw(p: &Plot, price: &Region, times: &[TsMs], buf: &mut Buffer) -> usize {
    let glyph = if p.glyphs.kind == GlyphKind::Ascii {
        "^"
    } else {
        "▲"
    };
    let Some(y) = price.plot.bottom().checked_sub(1) else {
        return 0;
    };
    let mut drawn = 0;
    for slot in times.iter().filter_map(|t| p.x.slot(*t)) {
        let col = p.x.center(slot);
        if col >= price.plot.width {
            continue;
        }
        if let Some(cell) = buf.cell_mut((price.plot.x + col, y)) {
            cell.set_symbol(glyph).set_style(p.theme.warn());
            drawn += 1;
        }
    }
    drawn
}
