//! An independent iCalendar parser for the tests: Python's `icalendar` (installed by
//! `scripts/test`), never the writer the application uses.

use std::path::PathBuf;

use serde_json::Value;

/// The Python interpreter with `icalendar` installed (`scripts/test` makes it). Never skipped:
/// missing, the test fails with the command that installs it.
fn python() -> PathBuf {
    let python = std::env::var_os("SCIM_CLIENT_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scim-venv/bin/python"),
        PathBuf::from,
    );
    let usable = std::process::Command::new(&python)
        .args(["-c", "import icalendar"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        usable,
        "the calendar tests need Python with icalendar at {}. Run ./scripts/test, or once:\n  \
         python3 -m venv target/scim-venv && target/scim-venv/bin/pip install 'icalendar==6.3.1'",
        python.display()
    );
    python
}

/// Every VEVENT of `ics` as Python's icalendar reads it.
const PARSE: &str = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
events = []
for ev in cal.walk("VEVENT"):
    start = ev.decoded("DTSTART")
    end = ev.decoded("DTEND") if "DTEND" in ev else start + ev.decoded("DURATION")
    exdates = []
    found = ev.get("EXDATE")
    for group in (found if isinstance(found, list) else [found] if found is not None else []):
        exdates += [d.dt.isoformat() for d in group.dts]
    events.append({
        "method": str(cal.get("METHOD")),
        "sequence": str(ev.get("SEQUENCE")),
        "status": str(ev.get("STATUS")),
        "organizer": str(ev.get("ORGANIZER")),
        "attendee": str(ev.get("ATTENDEE")),
        "uid": str(ev["UID"]),
        "summary": str(ev.get("SUMMARY")),
        "location": str(ev.get("LOCATION")),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "tzid": ev["DTSTART"].params.get("TZID"),
        "recurrence_id": ev.decoded("RECURRENCE-ID").isoformat() if "RECURRENCE-ID" in ev else None,
        "rrule": ev["RRULE"].to_ical().decode() if "RRULE" in ev else None,
        "exdates": exdates,
    })
print(json.dumps(sorted(events, key=lambda e: e["start"])))
"#;

/// Every `VEVENT` of `ics` as Python's icalendar reads it (sorted by start), with the
/// calendar's `METHOD` under `method` of each.
pub fn parse(ics: &str) -> Vec<Value> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(python())
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ics.as_bytes())
        .expect("write the feed");
    let output = child.wait_with_output().expect("python ran");
    assert!(
        output.status.success(),
        "icalendar could not read the feed: {}\n{ics}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}
