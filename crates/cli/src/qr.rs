//! Drawing a QR code in a terminal: two modules per character cell with half blocks.

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

/// Light modules around the symbol. The standard asks for 4; 2 is what terminal QR tools
/// use to fit a 24-line screen, and phone scanners read it.
const QUIET: usize = 2;

/// The modules of the symbol for `data`, with the quiet zone: `true` is dark.
fn modules(data: &str) -> Option<(usize, Vec<bool>)> {
    // Low error correction: a screen is not a scratched sticker, and a smaller symbol fits.
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let size = width + 2 * QUIET;
    let colors = code.to_colors();
    let mut out = vec![false; size * size];
    for y in 0..width {
        for x in 0..width {
            out[(y + QUIET) * size + x + QUIET] = colors[y * width + x] == Color::Dark;
        }
    }
    Some((size, out))
}

/// Plain text: `█▀▄` for dark modules, spaces for light. Right on light backgrounds.
pub fn text(data: &str) -> Option<Zeroizing<String>> {
    let (size, m) = modules(data)?;
    let mut out = Zeroizing::new(String::with_capacity(size * (size / 2 + 1) * 3));
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = m[y * size + x];
            let bottom = y + 1 < size && m[(y + 1) * size + x];
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

/// Black on white with ANSI colours, each cell an upper half block whose foreground is the
/// top module and background the bottom one: right whatever the terminal's colours.
pub fn ansi(data: &str) -> Option<Zeroizing<String>> {
    let (size, m) = modules(data)?;
    let mut out = Zeroizing::new(String::with_capacity(size * size * 12));
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = m[y * size + x];
            let bottom = y + 1 < size && m[(y + 1) * size + x];
            let fg = if top { "30" } else { "97" };
            let bg = if bottom { "40" } else { "107" };
            out.push_str(&format!("\x1b[{fg};{bg}m▀"));
        }
        out.push_str("\x1b[0m\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_ansi_have_the_same_shape() {
        let t = text("otpauth://totp/x:y?secret=AAAA").unwrap();
        let a = ansi("otpauth://totp/x:y?secret=AAAA").unwrap();
        assert_eq!(t.lines().count(), a.lines().count());
        let width = t.lines().next().unwrap().chars().count();
        assert!(t.lines().all(|l| l.chars().count() == width));
        assert!(a.lines().all(|l| l.ends_with("\x1b[0m")));
    }
}
