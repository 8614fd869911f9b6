//! Settings written in whole seconds (`*_secs`), read as `Duration`s.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub(super) fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}
