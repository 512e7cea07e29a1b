//! The account-wide send rate as shared one-second windows in the imports
//! table (`import_id=RATE#<channel>, sk=<epoch second>`: sends taken in that
//! second), so every sender of every container stays under one quota.

use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::Client;

use super::items::{channel_str, get_n, n, s};
use super::sdk::sdk_error;
use crate::domain::InviteChannel;
use crate::outbox::RateWindows;
use crate::port_error::PortError;

/// Shared one-second windows in the imports table.
#[derive(Debug, Clone)]
pub struct DynamoRateWindows {
    pub client: Client,
    pub table: String,
}

impl RateWindows for DynamoRateWindows {
    async fn take(
        &self,
        channel: InviteChannel,
        second: u64,
        want: u32,
        limit: u32,
    ) -> Result<u32, PortError> {
        let mut want = want.min(limit);
        // At most twice: all that was asked, then what was left.
        for _ in 0..2 {
            if want == 0 {
                return Ok(0);
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("import_id", s(format!("RATE#{}", channel_str(channel))))
                .key("sk", s(second.to_string()))
                .update_expression("ADD used :want SET expires_at = :exp")
                .condition_expression("attribute_not_exists(used) OR used <= :room")
                .expression_attribute_values(":want", n(want as u64))
                .expression_attribute_values(":room", n((limit - want) as u64))
                .expression_attribute_values(":exp", n(second + 3600))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(want),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                        let used = c.item().map_or(limit as u64, |i| get_n(i, "used"));
                        want = (limit as u64).saturating_sub(used) as u32;
                    }
                    _ => return Err(sdk_error("take send rate", e)),
                },
            }
        }
        Ok(0)
    }
}
