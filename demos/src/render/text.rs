//! Text for the pictures, in GNU Unifont: 8x16-pixel glyphs (16x16 for wide ones, as in
//! CJK), covering Latin, Greek, Cyrillic, CJK and the rest of the Basic Multilingual
//! Plane. A character the font lacks (an emoji outside the plane, say) is drawn as a
//! hollow box rather than dropped, and text too wide for its place is cut with a
//! visible ellipsis.

use super::canvas::Canvas;

/// Height of a line of text, pixels.
pub(crate) const LINE_HEIGHT: i64 = 16;
/// Width of the box drawn for a character the font lacks, pixels.
const MISSING_WIDTH: i64 = 8;
/// Marks where text was cut.
const ELLIPSIS: char = '…';

/// Marks that combine with the character before them, and invisible format characters:
/// they take no room of their own (Unifont would draw them beside their base).
fn is_zero_width(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2060}'..='\u{2064}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{FEFF}')
        || c.is_control()
}

/// How wide `c` is drawn, pixels.
fn char_width(c: char) -> i64 {
    if is_zero_width(c) {
        0
    } else {
        unifont::get_glyph(c).map_or(MISSING_WIDTH, |g| g.get_width() as i64)
    }
}

/// How wide `text` is drawn, pixels.
pub(crate) fn width(text: &str) -> i64 {
    text.chars().map(char_width).sum()
}

/// `text`, cut with an ellipsis so that it is drawn at most `most` pixels wide (empty
/// when not even the ellipsis fits).
pub(crate) fn fit(text: &str, most: i64) -> String {
    if width(text) <= most {
        return text.to_owned();
    }
    let room = most - char_width(ELLIPSIS);
    if room < 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push(ELLIPSIS);
    out
}

impl Canvas {
    /// Draws `text` with its top-left corner at (`x`, `y`); returns its width in pixels.
    pub(crate) fn text(&mut self, x: i64, y: i64, text: &str, colour: u8) -> i64 {
        let mut pen = x;
        for c in text.chars() {
            if is_zero_width(c) {
                continue;
            }
            match unifont::get_glyph(c) {
                Some(glyph) => {
                    let w = glyph.get_width();
                    for row in 0..16 {
                        for col in 0..w {
                            if glyph.get_pixel(col, row) {
                                self.set(pen + col as i64, y + row as i64, colour);
                            }
                        }
                    }
                    pen += w as i64;
                }
                None => {
                    // A hollow box, as fonts show what they lack.
                    let (l, r, t, b) = (pen + 1, pen + MISSING_WIDTH - 2, y + 2, y + 13);
                    for px in l..=r {
                        self.set(px, t, colour);
                        self.set(px, b, colour);
                    }
                    for py in t..=b {
                        self.set(l, py, colour);
                        self.set(r, py, colour);
                    }
                    pen += MISSING_WIDTH;
                }
            }
        }
        pen - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(canvas: &Canvas) -> usize {
        canvas.pixels.iter().filter(|&&p| p == 9).count()
    }

    #[test]
    fn latin_cyrillic_greek_and_cjk_all_draw() {
        for (text, wide) in [
            ("Ünïcödé", 7 * 8),
            ("Фрегат", 6 * 8),
            ("Ωμέγα", 5 * 8),
            ("東", 16),
            ("巡洋舰", 3 * 16),
        ] {
            assert_eq!(width(text), wide, "{text}");
            for c in text.chars() {
                let mut canvas = Canvas::new(20, 16);
                let drawn = canvas.text(0, 0, &c.to_string(), 9);
                assert_eq!(drawn, char_width(c));
                assert!(lit(&canvas) >= 6, "{c:?} drew {} pixels", lit(&canvas));
            }
        }
    }

    #[test]
    fn a_missing_character_is_a_visible_box_and_marks_take_no_room() {
        let mut canvas = Canvas::new(20, 16);
        assert_eq!(canvas.text(0, 0, "🚀", 9), MISSING_WIDTH);
        assert_eq!(lit(&canvas), 2 * 6 + 2 * 12 - 4);
        // "e" and a combining acute: one character wide.
        assert_eq!(width("e\u{301}"), 8);
    }

    #[test]
    fn text_too_wide_is_cut_with_an_ellipsis() {
        let name = "The Grand Imperial Armada of the Eastern Reaches";
        let cut = fit(name, 100);
        assert!(cut.ends_with(ELLIPSIS), "{cut}");
        assert!(width(&cut) <= 100 && width(&cut) > 80, "{cut}");
        assert_eq!(fit("Red", 100), "Red");
        assert_eq!(fit("東西南北", 40), "東西…");
        assert_eq!(fit("anything", 4), "");
    }
}
