//! What every adapter does with an SDK answer: an error as a [`PortError`]
//! that says what was being done, and a refused condition told apart from a
//! failure. A leaf of the adapters: it imports no other adapter.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::port_error::PortError;

pub(crate) fn sdk_error<E, R>(what: &'static str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => PortError::new(
            what,
            format!(
                "{} {}",
                se.code().unwrap_or("error"),
                se.message().unwrap_or("")
            ),
        ),
        None => PortError::new(what, format!("{e:?}")),
    }
}

/// Ok(true) when a conditional write happened, Ok(false) when its condition failed.
pub(crate) fn written<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    what: &'static str,
    is_condition_failure: impl Fn(&E) -> bool,
) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(&is_condition_failure) => Ok(false),
        Err(e) => Err(sdk_error(what, e)),
    }
}
