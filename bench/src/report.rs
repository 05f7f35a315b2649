//! One line of the report per measurement, printed and written as a Markdown table.

use crate::load::Sample;

#[derive(Debug, Clone)]
pub struct Row {
    pub workload: String,
    pub backend: String,
    pub throughput: String,
    pub p50: String,
    pub p99: String,
    pub ceiling: String,
    pub ratio: String,
    pub notes: String,
}

impl Row {
    /// A measurement that could not be made.
    pub fn skipped(workload: &str, backend: &str, why: &str) -> Row {
        Row {
            workload: workload.to_owned(),
            backend: backend.to_owned(),
            throughput: "—".into(),
            p50: "—".into(),
            p99: "—".into(),
            ceiling: "—".into(),
            ratio: "—".into(),
            notes: why.to_owned(),
        }
    }

    /// A throughput measurement against a ceiling measured the same way.
    pub fn versus(
        workload: &str,
        backend: &str,
        measured: &Sample,
        unit: &str,
        ceiling: &Sample,
        ceiling_name: &str,
        notes: Vec<String>,
    ) -> Row {
        let mut notes = notes;
        for (what, sample) in [("errors", measured), ("ceiling errors", ceiling)] {
            if sample.errors > 0 {
                notes.push(format!(
                    "{what}: {} (first: {})",
                    sample.errors,
                    shorten(sample.first_error.as_deref().unwrap_or(""))
                ));
            }
        }
        Row {
            workload: workload.to_owned(),
            backend: backend.to_owned(),
            throughput: format!("{} {unit}", rate(measured.throughput())),
            p50: ms(measured.quantile_ms(0.50)),
            p99: ms(measured.quantile_ms(0.99)),
            ceiling: format!(
                "{ceiling_name}: {} {unit}, p99 {}",
                rate(ceiling.throughput()),
                ms(ceiling.quantile_ms(0.99))
            ),
            ratio: ratio(measured.throughput(), ceiling.throughput()),
            notes: notes.join("; "),
        }
    }
}

pub fn rate(per_second: f64) -> String {
    if per_second >= 100.0 {
        format!("{per_second:.0}")
    } else {
        format!("{per_second:.1}")
    }
}

pub fn ms(value: f64) -> String {
    if value.is_nan() {
        "—".into()
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// Two decimals, or two significant digits below 0.1 (so a ratio far below 1 still says how far).
pub fn ratio(measured: f64, ceiling: f64) -> String {
    if ceiling > 0.0 {
        let r = measured / ceiling;
        if r >= 0.1 || r <= 0.0 || !r.is_finite() {
            format!("{r:.2}")
        } else {
            let decimals = (1 - r.log10().floor() as i32).clamp(2, 12) as usize;
            format!("{r:.decimals$}")
        }
    } else {
        "—".into()
    }
}

fn shorten(text: &str) -> String {
    let text: String = text.chars().take(160).collect();
    text.replace('|', "/").replace('\n', " ")
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | backend | throughput | p50 | p99 | ceiling | ratio | notes |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.workload,
            r.backend,
            r.throughput,
            r.p50,
            r.p99,
            r.ceiling,
            r.ratio,
            r.notes.replace('|', "/")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ratio;

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(ratio(99.0, 100.0), "0.99");
        assert_eq!(ratio(1.0, 10.0), "0.10");
        assert_eq!(ratio(5.0, 100.0), "0.050");
        assert_eq!(ratio(73.0, 10_000.0), "0.0073");
        assert_eq!(ratio(1412.0, 1_337_448.0), "0.0011");
        assert_eq!(ratio(0.0, 10.0), "0.00");
        assert_eq!(ratio(1.0, 0.0), "—");
    }
}
