//! Serde helpers shared by the Conductor wire types: lenient decoding of `null` and
//! of the loose scalar encodings the SDKs send.

use serde::{Deserialize, Deserializer};

/// Decodes `null` (or an absent field, with `#[serde(default)]`) as the type's default.
///
/// Conductor's Jackson mapper tolerates explicit nulls for collections and numbers; the
/// JavaScript SDK sends them for unset builder fields.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `skip_serializing_if` helper for `bool` fields that Conductor omits when false.
pub fn is_false(value: &bool) -> bool {
    !*value
}

/// `skip_serializing_if` helper for zero numbers.
pub fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}
