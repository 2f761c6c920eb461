//! The Reviews page (promotions and other changes to trust), one change
//! request, one promotion review, and the one-person banner.

mod change;
mod list;
mod promotion;

pub use change::ChangePage;
pub use list::{OnePersonBanner, ReviewsPage};
pub use promotion::ReviewPage;
