//! QR codes of authorization requests, as SVG (for pages) and PNG (for anything else), so
//! a wallet on another device can scan the `openid4vp://` link.

use qrcode::{EcLevel, QrCode};

/// Modules of quiet zone around the code (ISO/IEC 18004 asks for four).
const QUIET: usize = 4;
/// Pixels per module in the PNG.
const SCALE: usize = 6;

/// The text cannot be encoded (too long for the largest QR version).
#[derive(Debug, thiserror::Error)]
#[error("the authorization request does not fit into a QR code")]
pub struct QrError;

/// Encodes `text` with medium error correction (readable from a screen at an angle, still
/// small enough for a `request_uri` link).
fn encode(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|_| QrError)
}

/// The QR code as an SVG document (one path, crisp edges, scalable).
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    let width = code.width();
    let full = width + 2 * QUIET;
    let mut path = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let x = i % width + QUIET;
            let y = i / width + QUIET;
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" "#,
            r#"width="{px}" height="{px}" shape-rendering="crispEdges">"#,
            r##"<rect width="{n}" height="{n}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{d}"/></svg>"##
        ),
        n = full,
        px = full * SCALE,
        d = path
    ))
}

/// The QR code as an 8-bit grayscale PNG.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let width = code.width();
    let side = (width + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![0xffu8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % width + QUIET, i / width + QUIET);
        for dy in 0..SCALE {
            let row = (my * SCALE + dy) * side;
            for dx in 0..SCALE {
                if let Some(p) = pixels.get_mut(row + mx * SCALE + dx) {
                    *p = 0;
                }
            }
        }
    }
    let side32 = u32::try_from(side).map_err(|_| QrError)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|_| QrError)?;
    writer.write_image_data(&pixels).map_err(|_| QrError)?;
    writer.finish().map_err(|_| QrError)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_png_encode_a_request_link() {
        let link = "openid4vp://?client_id=x509_san_dns%3Averifier.example&request_uri=https%3A%2F%2Fverifier.example%2Frequest%2Fabc";
        let s = svg(link).unwrap();
        assert!(s.starts_with("<?xml") && s.ends_with("</svg>"));
        assert!(s.contains("M4 4h1v1h-1z"), "finder pattern corner");
        let p = png(link).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn rejects_text_too_long_for_a_qr_code() {
        let huge = "x".repeat(10_000);
        assert!(svg(&huge).is_err());
        assert!(png(&huge).is_err());
    }
}
