//! The Quotas module (admin-and-services §1.3–1.6, consumer-api-identity §11.3): operators
//! give tiers quota definitions and single identities individual quotas; the operations a
//! quota limits are refused with 429 `error.platform.quotaExhausted` once it is exhausted.
//!
//! # A quota of 10 is 10, under any concurrency
//!
//! Upstream checks a precomputed status before the action and recomputes it asynchronously
//! after it, so a burst overshoots `max` by the number of requests in flight. Here the check
//! is part of the write it limits: the enforced use case (in its own module) opens its write
//! transaction, calls its `QuotaGate` port on that transaction first, and inserts only if the
//! check passed. [`QuotasService::check`] then
//!
//! 1. reads the identity's tier (Devices, through [`ports::TierDirectory`]) and with it takes
//!    the identity's quota lock: on PostgreSQL the identity's row is read `FOR NO KEY UPDATE`
//!    and stays locked until the write commits or rolls back (`NO KEY` so that inserts that
//!    reference the identity are not blocked); on SQLite there is nothing to take, because the
//!    single writer connection runs one write transaction at a time anyway. Concurrent writes
//!    of the same identity queue here; writes of other identities lock other rows and never
//!    wait for each other. Taking the lock with the read that is needed anyway costs no extra
//!    round trip (an advisory lock did, and was most of the check's cost in the benchmark).
//! 2. reads the quotas of the requested metrics: individual quotas, which hide the tier's
//!    quotas of the same metric, and the tier's definitions. No quota, no count.
//! 3. counts the usage of each applied quota in its current window on the same connection,
//!    through [`ports::UsageCounter`], implemented by the modules that own the data (messages
//!    sent, templates, tokens, files and their cipher sizes, relationships with §1.6's status
//!    rule, challenges, datawallet modifications, devices, deletion processes) over
//!    `(creator, created_at)` indexes. Usage is always exactly §1.6's definition; there are no
//!    counters to keep in step. Because the lock is taken before the count and released only
//!    after the insert committed, the next writer of the identity counts that insert
//!    (PostgreSQL's read-committed statements see everything committed before they start).
//!
//! A request is admitted while the usage before it is below `max` (upstream's rule); only a
//! single request's own size can exceed the limit (one large file against a storage quota, a
//! batch of datawallet modifications), never concurrency.
//!
//! # Tiers stay in the Devices module
//!
//! Devices owns tiers and which tier an identity has (it moves identities to "Queued for
//! Deletion" and back). This module keeps no copy: it asks through [`ports::TierDirectory`]
//! on the caller's connection, so a tier change (a started deletion, an operator's change)
//! applies from the very next request, with no event in between. Only `TierDeleted` is
//! consumed, to remove the deleted tier's definitions ([`events::TierDeletedHandler`]).
//!
//! # Which operations are limited
//!
//! The six upstream-enforced ones (templates, relationships created or accepted, messages,
//! authenticated tokens, files) and, unlike upstream, the four metrics upstream lets operators
//! configure without enforcing them: created devices, authenticated challenges, datawallet
//! modifications and started deletion processes, because a quota an operator sets should hold.
//! The seeded "Queued for Deletion" quotas (`max 0, Total` for everything but datawallet
//! modifications and started deletion processes, not editable) therefore stop a deleting
//! identity from creating files, messages, templates, relationships, tokens, devices and
//! authenticated challenges, while it can still write its datawallet and cancel the deletion.
//! Anonymous requests are never limited.

mod deleter;
pub mod domain;
pub mod error;
pub mod events;
mod gate;
mod http;
pub mod ports;
mod rejections;
pub mod service;
pub mod store;

pub use error::QuotasError;
pub use http::{
    admin_routes, admin_schemas, identity_quotas, routes, IdentityQuotaDto, MetricDto, QuotaDefinitionDto,
    QuotaGroupDto, QuotasState, TierDetailsDto,
};
pub use rejections::rejections_since_start;
pub use service::{NewQuota, QuotasService, TierDetails};
pub use store::QuotasStore;
