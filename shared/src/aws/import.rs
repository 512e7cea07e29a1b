//! The import function's adapters, built once at start.

use super::dynamo::{DynamoDirectory, DynamoImports, DynamoInvites};
use super::messaging::AwsInviteSender;
use super::s3::{S3Reports, S3Uploads};
use super::settings::DynamoSettings;
use super::sqs::SqsContinuations;
use crate::import::ImportPorts;

pub struct AwsImportPorts {
    pub directory: DynamoDirectory,
    pub records: DynamoImports,
    pub invites: DynamoInvites,
    pub sender: AwsInviteSender,
    pub reports: S3Reports,
    pub uploads: S3Uploads,
    pub settings: DynamoSettings,
    pub continuations: SqsContinuations,
}

impl ImportPorts for AwsImportPorts {
    type Directory = DynamoDirectory;
    type Records = DynamoImports;
    type Invites = DynamoInvites;
    type Sender = AwsInviteSender;
    type Reports = S3Reports;
    fn directory(&self) -> &DynamoDirectory {
        &self.directory
    }
    fn records(&self) -> &DynamoImports {
        &self.records
    }
    fn invites(&self) -> &DynamoInvites {
        &self.invites
    }
    fn sender(&self) -> &AwsInviteSender {
        &self.sender
    }
    fn reports(&self) -> &S3Reports {
        &self.reports
    }
}
