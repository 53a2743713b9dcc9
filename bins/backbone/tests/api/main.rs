//! API tests: each starts the real application on port 0 with a fresh database and talks to
//! it over HTTP. Every test runs on SQLite and on PostgreSQL (`on_both_databases!`).

mod helpers;

mod admin;
mod admin_ui;
mod challenges;
mod conformance;
mod dead_letters;
mod deletion;
mod devices;
mod docs;
mod events;
mod files;
mod files_on_disk;
mod gateway;
mod housekeeping;
mod identities;
mod load;
mod message_lists;
mod messages;
mod onboarding;
mod optional_bodies;
mod pubsub;
mod push;
mod quotas;
mod rabbitmq;
mod relationships;
mod slow_clients;
mod sse;
mod sync;
mod tags;
mod templates;
mod token;
mod tokens;
mod wire;
