//! The objects of DESIGN.md §2, as plain data. Rules live in `crate::ops`, not here.

mod audit;
mod booking;
mod booking_series;
mod calendar_feed;
mod device;
mod email;
mod feed;
mod invitation;
mod organization;
mod password_reset;
mod price_list;
mod profile;
mod room;
mod scim_token;
mod second_factor;
mod session;
mod single_sign_on;
mod site;
mod user;

pub use audit::*;
pub use booking::*;
pub use booking_series::*;
pub use calendar_feed::*;
pub use device::*;
pub use email::*;
pub use feed::*;
pub use invitation::*;
pub use organization::*;
pub use password_reset::*;
pub use price_list::*;
pub use profile::*;
pub use room::*;
pub use scim_token::*;
pub use second_factor::*;
pub use session::*;
pub use single_sign_on::*;
pub use site::*;
pub use user::*;

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    /// How many rows match the filter, all pages together.
    pub total_count: i64,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
            total_count: self.total_count,
        }
    }
}
