//! Charts drawn by the server as SVG (K2): bars, lines, pies and funnels with
//! labelled axes and a legend, each mark carrying its exact value in a
//! `<title>` (shown on hover, read by screen readers). The same SVG is shown
//! in the page and downloaded.

use std::fmt::Write;

/// One group of a chart: its label, value (and comparison), its text and colour.
pub struct Point {
    pub label: String,
    pub value: f64,
    pub compare: Option<f64>,
    pub text: String,
    pub color: Option<String>,
}

/// A readable palette (colour-blind friendly order), for groups without their own colour.
const PALETTE: &[&str] = &[
    "#1971c2", "#e67700", "#2b8a3e", "#c92a2a", "#862e9c", "#0b7285", "#5f3dc4", "#a61e4d", "#495057", "#d9480f",
];

fn color(p: &Point, i: usize) -> String {
    p.color.clone().unwrap_or_else(|| PALETTE[i % PALETTE.len()].to_string())
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(w: i32, h: i32, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{t}\" font-family=\"system-ui, sans-serif\" font-size=\"12\"><title>{t}</title>",
        t = esc(title)
    )
}

/// Round axis steps: the maximum and 4 ticks.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 {
        return vec![0.0];
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    (0..=4).map(|i| i as f64 * step).collect()
}

fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Horizontal bars, one per group, with the comparison as a thin bar beneath.
pub fn bar(title: &str, points: &[Point], compare_label: &str) -> String {
    let h = 40 + points.len().max(1) as i32 * 34;
    let mut s = open(640, h, title);
    let max = points.iter().flat_map(|p| [p.value, p.compare.unwrap_or(0.0)]).fold(0.0, f64::max);
    let t = ticks(max);
    let top = *t.last().unwrap_or(&1.0);
    let (x0, x1) = (170.0, 600.0);
    let x = |v: f64| x0 + if top > 0.0 { v / top * (x1 - x0) } else { 0.0 };
    for v in &t {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" y1=\"20\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#dee2e6\"/><text x=\"{0:.1}\" y=\"14\" text-anchor=\"middle\" fill=\"#495057\">{2}</text>",
            x(*v),
            h - 10,
            short(*v)
        );
    }
    for (i, p) in points.iter().enumerate() {
        let y = 28 + i as i32 * 34;
        let _ = write!(
            s,
            "<text x=\"162\" y=\"{}\" text-anchor=\"end\" fill=\"#212529\">{}</text><rect x=\"{x0}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"{}\"><title>{}: {}</title></rect>",
            y + 13,
            esc(&p.label.chars().take(24).collect::<String>()),
            (x(p.value) - x0).max(0.0),
            color(p, i),
            esc(&p.label),
            esc(&p.text)
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" fill=\"#212529\">{}</text>",
            x(p.value) + 4.0,
            y + 13,
            esc(&p.text)
        );
        if let Some(c) = p.compare {
            let _ = write!(
                s,
                "<rect x=\"{x0}\" y=\"{}\" width=\"{:.1}\" height=\"5\" fill=\"#868e96\"><title>{}: {} {}</title></rect>",
                y + 21,
                (x(c) - x0).max(0.0),
                esc(&p.label),
                esc(compare_label),
                short(c)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A line over time (the comparison as a dashed line), points carrying values.
pub fn line(title: &str, points: &[Point], compare_label: &str) -> String {
    let (w, h) = (640.0, 280.0);
    let mut s = open(w as i32, h as i32, title);
    let max = points.iter().flat_map(|p| [p.value, p.compare.unwrap_or(0.0)]).fold(0.0, f64::max);
    let t = ticks(max);
    let top = *t.last().unwrap_or(&1.0);
    let (x0, x1, y0, y1) = (50.0, w - 20.0, h - 40.0, 20.0);
    let n = points.len().max(2) as f64 - 1.0;
    let px = |i: usize| x0 + i as f64 / n * (x1 - x0);
    let py = |v: f64| y0 - if top > 0.0 { v / top * (y0 - y1) } else { 0.0 };
    for v in &t {
        let _ = write!(
            s,
            "<line x1=\"{x0}\" y1=\"{0:.1}\" x2=\"{x1}\" y2=\"{0:.1}\" stroke=\"#dee2e6\"/><text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\" fill=\"#495057\">{3}</text>",
            py(*v),
            x0 - 6.0,
            py(*v) + 4.0,
            short(*v)
        );
    }
    let every = (points.len() / 8).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#495057\">{}</text>",
                px(i),
                h - 18.0,
                esc(&p.label)
            );
        }
    }
    if points.iter().any(|p| p.compare.is_some()) {
        let pts: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", px(i), py(p.compare.unwrap_or(0.0))))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#868e96\" stroke-width=\"2\" stroke-dasharray=\"5 4\"><title>{}</title></polyline>",
            pts.join(" "),
            esc(compare_label)
        );
    }
    let pts: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", px(i), py(p.value)))
        .collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1971c2\" stroke-width=\"2.5\"/>",
        pts.join(" ")
    );
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1971c2\"><title>{}: {}</title></circle>",
            px(i),
            py(p.value),
            esc(&p.label),
            esc(&p.text)
        );
    }
    s.push_str("</svg>");
    s
}

/// A pie with its legend (labels, values and shares).
pub fn pie(title: &str, points: &[Point]) -> String {
    let h = (40 + points.len() as i32 * 22).max(240);
    let mut s = open(640, h, title);
    let total: f64 = points.iter().map(|p| p.value.max(0.0)).sum();
    let (cx, cy, r) = (120.0, 120.0, 100.0);
    let mut angle = -std::f64::consts::FRAC_PI_2;
    for (i, p) in points.iter().enumerate() {
        let share = if total > 0.0 { p.value.max(0.0) / total } else { 0.0 };
        let pct = share * 100.0;
        let label = format!("{}: {} ({pct:.1} %)", p.label, p.text);
        if share >= 0.9999 {
            let _ = write!(
                s,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"{}\"><title>{}</title></circle>",
                color(p, i),
                esc(&label)
            );
        } else if share > 0.0 {
            let end = angle + share * std::f64::consts::TAU;
            let large = if share > 0.5 { 1 } else { 0 };
            let _ = write!(
                s,
                "<path d=\"M{cx},{cy} L{:.2},{:.2} A{r},{r} 0 {large} 1 {:.2},{:.2} Z\" fill=\"{}\" stroke=\"#fff\"><title>{}</title></path>",
                cx + r * angle.cos(),
                cy + r * angle.sin(),
                cx + r * end.cos(),
                cy + r * end.sin(),
                color(p, i),
                esc(&label)
            );
            angle = end;
        }
        let y = 30 + i as i32 * 22;
        let _ = write!(
            s,
            "<rect x=\"260\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"280\" y=\"{}\" fill=\"#212529\">{}</text>",
            y - 10,
            color(p, i),
            y,
            esc(&label)
        );
    }
    s.push_str("</svg>");
    s
}

/// A funnel: centred bars, widest first, with each step's share of the first.
pub fn funnel(title: &str, points: &[Point]) -> String {
    let h = 30 + points.len().max(1) as i32 * 40;
    let mut s = open(640, h, title);
    // Each step's share of the whole (steps need not shrink: a weighted
    // pipeline grows towards the later stages).
    let total: f64 = points.iter().map(|p| p.value.max(0.0)).sum();
    let max = points.iter().map(|p| p.value).fold(0.0, f64::max);
    for (i, p) in points.iter().enumerate() {
        let w = if max > 0.0 { p.value.max(0.0) / max * 420.0 } else { 0.0 };
        let y = 15 + i as i32 * 40;
        let share = if total > 0.0 {
            format!(" ({:.0} %)", p.value.max(0.0) / total * 100.0)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"30\" fill=\"{}\"><title>{}: {}{share}</title></rect><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#212529\">{}: {}{share}</text>",
            320.0 - w / 2.0,
            color(p, i),
            esc(&p.label),
            esc(&p.text),
            320,
            y + 20,
            esc(&p.label),
            esc(&p.text)
        );
    }
    s.push_str("</svg>");
    s
}

/// A single figure as an SVG card (for the download).
pub fn number(title: &str, text: &str, sub: &str) -> String {
    let mut s = open(320, 120, title);
    let _ = write!(
        s,
        "<text x=\"16\" y=\"28\" fill=\"#495057\">{}</text><text x=\"16\" y=\"78\" font-size=\"36\" font-weight=\"600\" fill=\"#212529\">{}</text><text x=\"16\" y=\"104\" fill=\"#495057\">{}</text></svg>",
        esc(title),
        esc(text),
        esc(sub)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[f64]) -> Vec<Point> {
        v.iter()
            .enumerate()
            .map(|(i, x)| Point {
                label: format!("<g{i}>"),
                value: *x,
                compare: Some(x / 2.0),
                text: format!("{x}"),
                color: None,
            })
            .collect()
    }

    #[test]
    fn charts_are_well_formed_and_carry_exact_values() {
        for svg in [
            bar("t", &pts(&[3.0, 10.0]), "before"),
            line("t", &pts(&[1.0, 5.0, 2.0]), "before"),
            pie("t", &pts(&[1.0, 3.0])),
            funnel("t", &pts(&[10.0, 4.0, 1.0])),
            number("t", "12", "+3 %"),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(!svg.contains("<g0>"), "labels are escaped");
            assert_eq!(svg.matches("<title>").count(), svg.matches("</title>").count());
            assert!(!svg.contains("NaN"));
        }
        assert!(bar("t", &pts(&[3.0, 10.0]), "x").contains("&lt;g1&gt;: 10"));
        assert!(pie("t", &pts(&[1.0, 3.0])).contains("(75.0 %)"));
        let f = funnel("t", &pts(&[1.0, 3.0, 6.0]));
        assert!(f.contains("(10 %)") && f.contains("(60 %)"), "a step's share of the whole");
        assert!(line("t", &pts(&[]), "x").ends_with("</svg>"), "empty data still draws");
        assert_eq!(ticks(0.0), vec![0.0]);
        assert_eq!(ticks(87.0).last().copied(), Some(100.0));
    }
}
