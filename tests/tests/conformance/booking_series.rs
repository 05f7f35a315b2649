//! Booking series: a series and its occurrences written together (guarded by the holder, all or
//! nothing), read back with their rule, on both backends.

use chrono::{NaiveDate, Weekday};
use concierge_domain::ids::BookingSeriesId;
use concierge_domain::model::*;
use concierge_domain::recurrence::{Frequency, RecurrenceRule, RuleInput};
use concierge_domain::storage::{Storage, StorageError, UniqueKey};
use concierge_domain::values::TimeZone;

use crate::bookings::{booking, cast};
use crate::fixtures::*;

fn series_of(first: &Booking, rule: RecurrenceRule) -> BookingSeries {
    BookingSeries {
        id: BookingSeriesId::new(),
        organization_id: first.organization_id,
        room_id: first.room_id,
        site_id: first.site_id,
        user_id: first.user_id,
        created_by: first.created_by,
        title: first.title.clone(),
        rule,
        local_start: first.start.naive_utc(),
        duration_minutes: 30,
        time_zone: TimeZone::parse("tz", "Europe/Paris").expect("zone"),
        skipped: vec![at(600)],
        created_at: now(),
    }
}

pub async fn a_series_and_its_occurrences_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let rule = RecurrenceRule::parse(RuleInput {
        frequency: Some(Frequency::Weekly),
        interval: Some(2),
        by_day: vec![Weekday::Fri, Weekday::Tue],
        until: NaiveDate::from_ymd_opt(2030, 1, 31),
        ..Default::default()
    })
    .expect("rule");
    let mut occurrences = vec![
        booking(&c.touch, &c.ada, 120, 150),
        booking(&c.touch, &c.ada, 0, 30),
    ];
    let series = series_of(&occurrences[1], rule);
    for b in &mut occurrences {
        b.series_id = Some(series.id);
    }
    let mut tx = begin(store).await;
    assert!(
        tx.insert_booking_series_held_by(&series, &occurrences, &c.ada)
            .await
            .expect("insert")
    );
    commit(tx).await;

    assert_eq!(
        store.booking_series(series.id).await.expect("read"),
        Some(series.clone())
    );
    // By start, each naming its series.
    let read = store.series_bookings(series.id).await.expect("read");
    assert_eq!(read, [occurrences[1].clone(), occurrences[0].clone()]);
    assert_eq!(
        store.booking(occurrences[0].id).await.expect("read"),
        Some(occurrences[0].clone())
    );
    assert_eq!(
        store
            .booking_series_by_ids(&[BookingSeriesId::new(), series.id])
            .await
            .expect("read"),
        vec![series.clone()]
    );
    assert_eq!(
        store
            .booking_series(BookingSeriesId::new())
            .await
            .expect("read"),
        None
    );
}

pub async fn a_series_is_written_whole_or_not_at_all(store: &dyn Storage) {
    let c = cast(store).await;
    let taken = booking(&c.touch, &c.bob, 60, 90);
    let mut tx = begin(store).await;
    tx.insert_booking(&taken).await.expect("booking");
    commit(tx).await;
    let rule = RecurrenceRule::parse(RuleInput {
        frequency: Some(Frequency::Daily),
        count: Some(2),
        ..Default::default()
    })
    .expect("rule");
    let mut occurrences = vec![
        booking(&c.touch, &c.ada, 0, 30),
        booking(&c.touch, &c.ada, 75, 105),
    ];
    let series = series_of(&occurrences[0], rule);
    for b in &mut occurrences {
        b.series_id = Some(series.id);
    }
    // One occurrence overlaps a confirmed booking: nothing is written.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.insert_booking_series_held_by(&series, &occurrences, &c.ada)
            .await,
        Err(StorageError::Unique(UniqueKey::BookingOverlap))
    );
    drop(tx);
    assert_eq!(store.booking_series(series.id).await.expect("read"), None);
    assert_eq!(store.booking(occurrences[0].id).await.expect("read"), None);

    // A holder no longer as checked: nothing is written either.
    let mut deactivated = c.ada.clone();
    deactivated.status = UserStatus::Inactive;
    let mut tx = begin(store).await;
    assert!(
        !tx.insert_booking_series_held_by(&series, &occurrences[..1], &deactivated)
            .await
            .expect("insert")
    );
    commit(tx).await;
    assert_eq!(store.booking_series(series.id).await.expect("read"), None);
    assert!(
        store
            .series_bookings(series.id)
            .await
            .expect("read")
            .is_empty()
    );
}

/// The occurrences of several series in one read (a calendar feed's): every status, by series
/// then start; none for an unknown series or none asked; a booking of no series never.
pub async fn the_occurrences_of_several_series_are_read_together(store: &dyn Storage) {
    let c = cast(store).await;
    let rule = || {
        RecurrenceRule::parse(RuleInput {
            frequency: Some(Frequency::Daily),
            count: Some(3),
            ..Default::default()
        })
        .expect("rule")
    };
    let mut written = Vec::new();
    for (holder, offset) in [(&c.ada, 0), (&c.bob, 2000)] {
        let mut occurrences = vec![
            booking(&c.touch, holder, offset + 1440, offset + 1470),
            booking(&c.touch, holder, offset, offset + 30),
            booking(&c.touch, holder, offset + 2880, offset + 2910),
        ];
        occurrences[0].status = BookingStatus::Cancelled;
        let series = series_of(&occurrences[1], rule());
        for b in &mut occurrences {
            b.series_id = Some(series.id);
        }
        let mut tx = begin(store).await;
        assert!(
            tx.insert_booking_series_held_by(&series, &occurrences, holder)
                .await
                .expect("insert")
        );
        commit(tx).await;
        written.push(series.id);
    }
    let alone = booking(&c.touch, &c.ada, 5000, 5030);
    let mut tx = begin(store).await;
    tx.insert_booking(&alone).await.expect("booking");
    commit(tx).await;

    let mut ids = written.clone();
    ids.sort();
    let mut expected = Vec::new();
    for id in &ids {
        let one = store.series_bookings(*id).await.expect("read");
        assert_eq!(one.len(), 3, "cancelled occurrences included");
        expected.extend(one);
    }
    let asked = [written[1], BookingSeriesId::new(), written[0], written[1]];
    let read = store.series_bookings_of(&asked).await.expect("read");
    assert_eq!(read, expected);
    assert!(read.iter().all(|b| b.id != alone.id));
    assert!(
        store
            .series_bookings_of(&[BookingSeriesId::new()])
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .series_bookings_of(&[])
            .await
            .expect("read")
            .is_empty()
    );
}
