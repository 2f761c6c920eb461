//! An approved change request takes effect through the feature that owns
//! the thing it changes; each first checks the thing is still exactly what
//! the request was proposed against.

use crate::auth::UserView;
use crate::change::store::Stored;
use crate::change::Kind;
use crate::db::Tx;
use crate::error::AppError;

pub async fn apply(tx: &mut Tx<'_>, c: &Stored, approver: &UserView) -> Result<(), AppError> {
    match c.kind {
        Kind::Promotion => crate::trust::promotion::apply(tx, c, approver).await,
        Kind::AgentStage => crate::agents::stage::apply_change(tx, c, approver).await,
        Kind::Grant => crate::scope::store::apply_change(tx, c, approver).await,
        Kind::Capability => crate::catalog::store::apply_change(tx, c, approver).await,
        Kind::Policy => crate::rules::store::apply_change(tx, c, approver).await,
        Kind::Readiness => crate::trust::settings::apply_change(tx, c, approver).await,
        Kind::Sensor => crate::trust::settings::apply_sensor_change(tx, c, approver).await,
    }
}
