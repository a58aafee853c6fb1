//! The inline PNG chart of an alert email: negative mentions per hour over the last days (red) against what is
//! typical for each hour of the week (grey). Drawn without text, so no font is needed; the email's HTML labels it.

use plotters::prelude::*;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 200;

/// Renders `observed` and `expected` (one value per hour, oldest first) as a PNG.
pub fn render(observed: &[f64], expected: &[f64]) -> anyhow::Result<Vec<u8>> {
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = observed.len().max(expected.len()).max(2);
        let top = observed.iter().chain(expected).copied().fold(1.0f64, f64::max) * 1.15;
        let area = root.margin(8, 8, 8, 8);
        let mut chart = ChartBuilder::on(&area).build_cartesian_2d(0f64..(n - 1) as f64, 0f64..top)?;
        // Light horizontal guides at quarters of the scale.
        for q in 1..4 {
            let y = top * q as f64 / 4.0;
            chart.draw_series(LineSeries::new([(0.0, y), ((n - 1) as f64, y)], RGBColor(230, 230, 230)))?;
        }
        // Day boundaries every 24 hours, counted back from the newest hour.
        for d in (0..n).rev().step_by(24).skip(1) {
            chart.draw_series(LineSeries::new([(d as f64, 0.0), (d as f64, top)], RGBColor(215, 215, 215)))?;
        }
        chart.draw_series(AreaSeries::new(
            expected.iter().enumerate().map(|(i, v)| (i as f64, *v)),
            0.0,
            RGBColor(200, 200, 200).mix(0.6),
        ))?;
        chart.draw_series(LineSeries::new(
            observed.iter().enumerate().map(|(i, v)| (i as f64, *v)),
            RGBColor(200, 30, 30).stroke_width(2),
        ))?;
        root.present()?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_png_with_red_pixels() {
        let obs: Vec<f64> = (0..72).map(|i| if i > 65 { 30.0 } else { 3.0 }).collect();
        let exp = vec![3.0; 72];
        let png = super::render(&obs, &exp).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().expect("an image this small fits in memory")];
        reader.next_frame(&mut buf).unwrap();
        let red = buf.chunks(3).filter(|p| p[0] > 150 && p[1] < 80 && p[2] < 80).count();
        assert!(red > 100, "the observed line is drawn ({red} red pixels)");
    }
}
