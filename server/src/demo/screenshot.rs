//! Screenshots for the demo: a browser window with the page an agent was
//! looking at, drawn as blocks (title bar, header, text lines, form fields,
//! the button it is about to press), encoded as a real PNG.

const W: usize = 960;
const H: usize = 600;

type Rgb = [u8; 3];

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(background: Rgb) -> Canvas {
        Canvas {
            pixels: background.repeat(W * H),
        }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        for row in y.min(H)..(y + h).min(H) {
            for col in x.min(W)..(x + w).min(W) {
                let i = (row * W + col) * 3;
                self.pixels[i..i + 3].copy_from_slice(&color);
            }
        }
    }

    /// A box with a one-pixel border.
    fn outlined(&mut self, x: usize, y: usize, w: usize, h: usize, fill: Rgb, border: Rgb) {
        self.rect(x, y, w, h, border);
        self.rect(x + 1, y + 1, w.saturating_sub(2), h.saturating_sub(2), fill);
    }

    /// Grey bars standing in for a paragraph of `lines` lines.
    fn text(&mut self, x: usize, y: usize, width: usize, lines: usize, seed: usize) {
        for l in 0..lines {
            let len = width - (seed * 37 + l * 53) % (width / 3);
            self.rect(x, y + l * 18, len, 8, [180, 186, 196]);
        }
    }

    fn png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, W as u32, H as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing to memory cannot fail short of running out of it.
        let mut writer = encoder.write_header().expect("PNG header");
        writer.write_image_data(&self.pixels).expect("PNG data");
        writer.finish().expect("PNG end");
        out
    }
}

/// What the page in the screenshot is.
pub enum Page {
    /// An email being composed, the send button highlighted.
    Compose,
    /// A billing page with a refund form.
    Refund,
    /// A table of records, some selected for deletion.
    Records,
}

/// A screenshot of `page`, with `accent` as the site's brand colour.
pub fn draw(page: Page, accent: Rgb) -> Vec<u8> {
    let mut c = Canvas::new([255, 255, 255]);
    // Browser chrome: title bar, three dots, address bar.
    c.rect(0, 0, W, 44, [222, 225, 230]);
    for (i, color) in [[237, 106, 94], [245, 191, 79], [98, 197, 84]]
        .iter()
        .enumerate()
    {
        c.rect(16 + i * 20, 16, 12, 12, *color);
    }
    c.outlined(90, 10, 700, 24, [255, 255, 255], [200, 204, 210]);
    c.rect(100, 18, 260, 8, [150, 156, 166]);
    // The site's header and navigation.
    c.rect(0, 44, W, 56, accent);
    c.rect(24, 62, 120, 20, [255, 255, 255]);
    for i in 0..4 {
        c.rect(600 + i * 84, 66, 60, 10, [235, 240, 250]);
    }
    match page {
        Page::Compose => {
            c.text(40, 130, 300, 1, 1);
            for (i, y) in [160, 200, 240].into_iter().enumerate() {
                c.outlined(40, y, 600, 28, [255, 255, 255], [190, 196, 204]);
                c.rect(52, y + 10, 140 + i * 60, 8, [90, 96, 110]);
            }
            c.outlined(40, 284, 600, 220, [255, 255, 255], [190, 196, 204]);
            c.text(56, 304, 560, 9, 2);
            // The button the agent means to press, ringed in red.
            c.rect(40, 522, 140, 40, [214, 40, 40]);
            c.rect(44, 526, 132, 32, accent);
            c.rect(70, 538, 80, 8, [255, 255, 255]);
            c.text(680, 160, 240, 12, 3);
        }
        Page::Refund => {
            c.text(40, 130, 420, 2, 4);
            // Invoice lines.
            for row in 0..6 {
                let y = 190 + row * 34;
                c.rect(40, y, 620, 1, [226, 229, 234]);
                c.rect(52, y + 12, 220, 8, [120, 126, 138]);
                c.rect(560, y + 12, 80, 8, [60, 66, 80]);
            }
            c.outlined(700, 190, 220, 200, [248, 249, 251], [210, 214, 220]);
            c.text(716, 210, 180, 4, 5);
            c.outlined(716, 300, 188, 30, [255, 255, 255], [214, 40, 40]);
            c.rect(728, 312, 90, 8, [40, 40, 40]);
            c.rect(716, 346, 188, 32, accent);
        }
        Page::Records => {
            for row in 0..12 {
                let y = 130 + row * 36;
                let selected = row % 3 == 1;
                let fill = if selected {
                    [255, 236, 236]
                } else {
                    [255, 255, 255]
                };
                c.outlined(40, y, 880, 34, fill, [226, 229, 234]);
                c.outlined(
                    52,
                    y + 10,
                    14,
                    14,
                    if selected { accent } else { [255, 255, 255] },
                    [150, 156, 166],
                );
                c.rect(84, y + 14, 200 + (row * 29) % 160, 8, [110, 116, 128]);
                c.rect(620, y + 14, 120, 8, [160, 166, 176]);
            }
            c.rect(760, 570, 160, 24, [200, 40, 40]);
        }
    }
    c.png()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screenshots_are_real_pngs_of_the_stated_size() {
        let png = draw(Page::Compose, [40, 90, 200]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let size = imagesize_of(&png);
        assert_eq!(size, (W as u32, H as u32));
    }

    fn imagesize_of(png: &[u8]) -> (u32, u32) {
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        (w, h)
    }
}
