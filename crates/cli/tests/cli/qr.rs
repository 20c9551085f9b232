//! The QR code `pam-otp enroll` prints decodes back to the printed otpauth:// URI.

use std::process::Command;

use crate::harness::*;

/// Rasterises the half-block text QR code (two modules per character) with a light margin,
/// as a light-background terminal shows it.
fn decode_text_qr(lines: &[&str]) -> String {
    let rows: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let width = rows.iter().map(Vec::len).max().unwrap();
    let mut modules = vec![vec![false; width]; rows.len() * 2];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (top, bottom) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?} in the QR code"),
            };
            modules[2 * y][x] = top;
            modules[2 * y + 1][x] = bottom;
        }
    }
    decode_modules(&modules)
}

/// The same for the ANSI form: each cell is ESC[fg;bg m ▀, foreground the top module.
fn decode_ansi_qr(lines: &[&str]) -> String {
    let mut modules = Vec::new();
    for line in lines {
        let mut top = Vec::new();
        let mut bottom = Vec::new();
        for cell in line.split("\x1b[").filter(|c| c.ends_with('▀')) {
            let colours = cell.trim_end_matches('▀').trim_end_matches('m');
            let (fg, bg) = colours.split_once(';').unwrap();
            top.push(fg == "30");
            bottom.push(bg == "40");
        }
        modules.push(top);
        modules.push(bottom);
    }
    decode_modules(&modules)
}

fn decode_modules(modules: &[Vec<bool>]) -> String {
    const SCALE: usize = 6;
    const MARGIN: usize = 4;
    let h = modules.len();
    let w = modules[0].len();
    let (iw, ih) = ((w + 2 * MARGIN) * SCALE, (h + 2 * MARGIN) * SCALE);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(iw, ih, |x, y| {
        let (mx, my) = (
            (x / SCALE).wrapping_sub(MARGIN),
            (y / SCALE).wrapping_sub(MARGIN),
        );
        let dark = my < h && mx < w && modules[my][mx];
        if dark {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code expected");
    grids[0].decode().expect("the QR code decodes").1
}

fn qr_block(out: &str) -> Vec<&str> {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Scan this QR code"))
        .unwrap()
        + 2;
    let end = lines
        .iter()
        .position(|l| l.starts_with("Or open this URI"))
        .unwrap()
        - 1;
    lines[start..end].to_vec()
}

#[test]
fn qr_code_decodes_to_the_printed_uri() {
    for (mode, decode) in [
        ("text", decode_text_qr as fn(&[&str]) -> String),
        ("ansi", decode_ansi_qr),
    ] {
        let home = Home::new();
        let out = ok(home.run(&["enroll", "--no-confirm", "--qr", mode], ""));
        let decoded = decode(&qr_block(&out));
        assert_eq!(decoded, uri_line(&out), "--qr {mode}");
        assert!(decoded.contains(&b32(&secret_of(&home.otp()))));
    }
    // Not a terminal: auto draws plain text.
    let home = Home::new();
    let out = ok(home.run(&["enroll", "--no-confirm"], ""));
    assert!(!out.contains('\x1b'));
    assert_eq!(decode_text_qr(&qr_block(&out)), uri_line(&out));
}

#[test]
fn qr_code_also_decodes_with_zbarimg() {
    // zbar-tools is an independent decoder; rqrr above already covers the format.
    assert!(
        Command::new("zbarimg").arg("--version").output().is_ok(),
        "zbarimg is missing: install Debian's zbar-tools (scripts/install-deps.sh)"
    );
    let home = Home::new();
    let out = ok(home.run(&["enroll", "--no-confirm", "--qr", "text"], ""));
    let lines = qr_block(&out);
    // Portable graymap, 4 pixels per module, with a light margin.
    let rows: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let w = rows[0].len();
    let h = rows.len() * 2;
    let (s, m) = (4usize, 4usize);
    let (iw, ih) = ((w + 2 * m) * s, (h + 2 * m) * s);
    let mut pgm = format!("P5\n{iw} {ih}\n255\n").into_bytes();
    for y in 0..ih {
        for x in 0..iw {
            let (mx, my) = ((x / s).wrapping_sub(m), (y / s).wrapping_sub(m));
            let dark = my < h && mx < w && {
                let c = rows[my / 2][mx];
                matches!((c, my % 2), ('█', _) | ('▀', 0) | ('▄', 1))
            };
            pgm.push(if dark { 0 } else { 255 });
        }
    }
    let img = home.path("qr.pgm");
    std::fs::write(&img, pgm).unwrap();
    let z = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&img)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&z.stdout).trim(), uri_line(&out));
}
