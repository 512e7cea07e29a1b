//! The import function's adapters, built once at start.

use super::dynamo::{DynamoDirectory, DynamoImports};
use super::events::EventBridgePublisher;
use super::invite_queue::SqsInviteQueue;
use super::outbox::DynamoOutbox;
use super::s3::{S3Reports, S3Uploads};
use super::settings::DynamoSettings;
use super::sqs::SqsContinuations;
use crate::import::ImportPorts;

pub struct AwsImportPorts {
    pub directory: DynamoDirectory,
    pub records: DynamoImports,
    pub outbox: DynamoOutbox,
    pub queue: SqsInviteQueue,
    pub reports: S3Reports,
    pub uploads: S3Uploads,
    pub settings: DynamoSettings,
    pub continuations: SqsContinuations,
    pub events: EventBridgePublisher,
}

impl ImportPorts for AwsImportPorts {
    type Directory = DynamoDirectory;
    type Records = DynamoImports;
    type Outbox = DynamoOutbox;
    type Queue = SqsInviteQueue;
    type Reports = S3Reports;
    type Events = EventBridgePublisher;
    fn directory(&self) -> &DynamoDirectory {
        &self.directory
    }
    fn records(&self) -> &DynamoImports {
        &self.records
    }
    fn outbox(&self) -> &DynamoOutbox {
        &self.outbox
    }
    fn queue(&self) -> &SqsInviteQueue {
        &self.queue
    }
    fn reports(&self) -> &S3Reports {
        &self.reports
    }
    fn events(&self) -> &EventBridgePublisher {
        &self.events
    }
}
