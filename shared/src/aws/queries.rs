//! Queries more than one adapter makes.

use aws_sdk_dynamodb::Client;

use super::items::{get_s, s, Item};
use super::sdk::sdk_error;
use crate::port_error::PortError;

/// The serials of a user's devices, from the devices table's `by-email`
/// index (keys only), page after page until `at_most` (None: all of them).
pub async fn serials_of_owner(
    client: &Client,
    devices_table: &str,
    email: &str,
    at_most: Option<usize>,
    what: &'static str,
) -> Result<Vec<String>, PortError> {
    let mut serials = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let room = at_most.map(|n| n.saturating_sub(serials.len()));
        let out = client
            .query()
            .table_name(devices_table)
            .index_name("by-email")
            .key_condition_expression("email = :e")
            .expression_attribute_values(":e", s(email))
            .set_limit(room.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        serials.extend(
            out.items()
                .iter()
                .filter_map(|i| get_s(i, "serial"))
                .map(str::to_owned),
        );
        let full = at_most.is_some_and(|n| serials.len() >= n);
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() && !full => start = Some(k),
            _ => return Ok(serials),
        }
    }
}
