//! `--plot FILE.svg`: latency percentiles (log scale) and throughput over
//! time, one continuous time axis across the runs of a sweep or ramp.

use crate::report::RunReport;
use plotters::prelude::*;
use std::path::Path;

/// Concatenates the runs' series onto one time axis: (t, point).
fn timeline(runs: &[RunReport]) -> Vec<(f64, &crate::stats::Point)> {
    let mut out = Vec::new();
    let mut offset = 0.0;
    for r in runs {
        for p in &r.series {
            out.push((offset + p.t, p));
        }
        offset += r.duration_s.max(r.series.last().map_or(0.0, |p| p.t));
    }
    out
}

pub fn write_svg(path: &Path, title: &str, runs: &[RunReport]) -> Result<(), String> {
    let points = timeline(runs);
    if points.is_empty() {
        return Err("nothing to plot: the run recorded no interval".into());
    }
    let err = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    let root = SVGBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(420);
    let t_max = points.last().map_or(1.0, |(t, _)| *t).max(1e-3);

    let lat_ms: Vec<(f64, [f64; 4])> = points
        .iter()
        .map(|(t, p)| {
            (
                *t,
                [p.p50_us, p.p99_us, p.p999_us, p.max_us].map(|us| (us / 1000.0).max(1e-3)),
            )
        })
        .collect();
    let lo = lat_ms
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(f64::INFINITY, f64::min)
        .max(1e-3);
    let hi = lat_ms
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max)
        .max(lo * 10.0);
    let mut chart = ChartBuilder::on(&top)
        .caption(format!("{title}: latency"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, (lo / 1.5..hi * 1.5).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("latency (ms)")
        .draw()
        .map_err(|e| err(&e))?;
    let names = ["p50", "p99", "p99.9", "max"];
    let colours = [BLUE, RED, MAGENTA, BLACK];
    for (i, name) in names.iter().enumerate() {
        let colour = colours[i];
        chart
            .draw_series(LineSeries::new(
                lat_ms.iter().map(|(t, v)| (*t, v[i])),
                colour.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    let max_rate = points
        .iter()
        .map(|(_, p)| p.ops_per_s)
        .fold(0.0, f64::max)
        .max(1.0);
    let mut chart = ChartBuilder::on(&bottom)
        .caption(format!("{title}: throughput"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..max_rate * 1.1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("ops/s")
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|(t, p)| (*t, p.ops_per_s)),
            GREEN.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
