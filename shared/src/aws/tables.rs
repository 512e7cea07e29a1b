//! The tables' names, from the functions' environment (the template sets them).

/// Names of the tables, from the functions' environment.
#[derive(Debug, Clone)]
pub struct Tables {
    pub devices: String,
    pub users: String,
    pub imports: String,
    pub settings: String,
}

impl Tables {
    pub fn from_env() -> Result<Self, crate::env::EnvError> {
        use crate::env::required;
        Ok(Self {
            devices: required("DEVICES_TABLE")?,
            users: required("USERS_TABLE")?,
            imports: required("IMPORTS_TABLE")?,
            settings: required("SETTINGS_TABLE")?,
        })
    }
}
