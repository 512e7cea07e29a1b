//! Apple Automated Device Enrollment (ADE, formerly DEP): the MDM server's
//! key pair, and the server token ABM encrypts to it. Pure: no AWS, no I/O.

pub mod keypair;
pub mod token;

#[cfg(test)]
mod openssl_cli;
