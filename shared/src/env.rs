//! Typed reading of the environment variables the functions are configured with.

use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {0} is not set; template.yaml (or .dev/functions.env locally) sets it")]
    Missing(&'static str),
    #[error("environment variable {name} has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A required variable.
pub fn required(name: &'static str) -> Result<String, EnvError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(EnvError::Missing(name)),
    }
}

/// An optional variable parsed as `T`, with a default when unset or empty.
pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
            name,
            reason: e.to_string(),
        }),
        _ => Ok(default),
    }
}
