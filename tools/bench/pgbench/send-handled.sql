-- One POST /api/v2/Messages and the handling of its events, as the server runs them on
-- PostgreSQL (captured with log_statement = 'all'): the request (see send-request.sql), then
-- what the worker does for MessageCreated (crates/eventbus/src/relay.rs claim and mark,
-- crates/synchronization: the recipient's MessageReceived external event) and for the
-- ExternalEventCreated that raises (crates/push: the identity and its push registrations;
-- none are registered, so nothing is queued).
-- Left out: the relay's batch SELECT ... FOR UPDATE SKIP LOCKED, one per up to 100 events.
-- Four commits per message, as in the server once the relay claims in batches.
\set k random(0, :npairs / :clients - 1)
\set pair 1 + :client_id + :k * :clients
-- Not part of a send: picks the pair and makes the IDs and payloads the server would make
-- (JSON built with jsonb_build_object: pgbench would take ":name" inside literals for a variable).
SELECT p.sender, p.recipient, p.relationship_id, p.sender_device, p.pair_key, v.message_id, v.event_id, v.now,
       v.now + 60000 AS claimed_until, v.external_id, v.created_event_id,
       decode(repeat('2a', 1024), 'hex') AS body, decode(repeat('07', 64), 'hex') AS encrypted_key,
       jsonb_build_object('CreatedBy', p.sender, 'Id', v.message_id, 'Recipients', jsonb_build_array(jsonb_build_object(
           'Address', p.recipient, 'IsDeliveryBlocked', false, 'RelationshipId', p.relationship_id)))::text AS payload,
       jsonb_build_object('id', v.message_id)::text AS external_payload,
       jsonb_build_object('EventId', v.external_id, 'IsDeliveryBlocked', false, 'Owner', p.recipient)::text
           AS created_payload
FROM bench_pairs p,
     (SELECT 'MSG' || substr(md5(random()::text), 1, 17) AS message_id, md5(random()::text) AS event_id,
             'SYI' || substr(md5(random()::text), 1, 17) AS external_id, md5(random()::text) AS created_event_id,
             (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now) v
WHERE p.n = :pair \gset
-- The request.
SELECT id, status FROM relationships WHERE pair_key = :pair_key ORDER BY created_at DESC, id DESC LIMIT 1;
BEGIN;
SELECT COUNT(*) FROM message_recipients r JOIN messages m ON m.id = r.message_id
    WHERE m.created_by = :sender AND r.address = :recipient AND r.received_at IS NULL;
INSERT INTO messages (id, created_at, created_by, created_by_device, body)
    VALUES (:message_id, :now, :sender, :sender_device, :body);
INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key)
    VALUES (:message_id, 0, :recipient, :relationship_id, :encrypted_key);
INSERT INTO outbox_events (event_id, event_type, payload, created_at)
    VALUES (:event_id, 'MessageCreated', :payload, :now) RETURNING sequence AS message_created \gset
COMMIT;
-- Synchronization.ExternalEvents: the recipient's MessageReceived. The relay's claim of the
-- event runs first; it has its own transaction in the server, but one for up to 100 events.
BEGIN;
UPDATE outbox_events SET claimed_until = :claimed_until WHERE sequence = :message_created;
INSERT INTO processed_events (consumer, event_id) VALUES ('Synchronization.ExternalEvents', :event_id)
    ON CONFLICT DO NOTHING;
SELECT COALESCE(MAX(event_index), -1) + 1 AS event_index FROM external_events WHERE owner = :recipient \gset
INSERT INTO external_events (id, owner, event_index, event_type, payload, created_at, sync_error_count,
        is_delivery_blocked, context)
    VALUES (:external_id, :recipient, :event_index, 'MessageReceived', :external_payload, :now, 0, 0, :relationship_id);
INSERT INTO outbox_events (event_id, event_type, payload, created_at)
    VALUES (:created_event_id, 'ExternalEventCreated', :created_payload, :now)
    RETURNING sequence AS external_event_created \gset
COMMIT;
-- Relay: MessageCreated published (a statement of its own in the server); the claim of
-- ExternalEventCreated rides along for the same reason as above.
BEGIN;
UPDATE outbox_events SET published_at = :now WHERE sequence = :message_created;
UPDATE outbox_events SET claimed_until = :claimed_until WHERE sequence = :external_event_created;
COMMIT;
-- Devices.PushNotifications: the recipient and its push registrations.
SELECT address, client_id, public_key, tier_id, created_at, identity_version, status, deletion_grace_period_ends_at
    FROM identities WHERE address = :recipient;
SELECT device_id, identity_address, device_push_identifier, platform, handle, app_id, environment, updated_at
    FROM push_registrations WHERE identity_address IN (:recipient) ORDER BY updated_at, device_id;
-- Relay: ExternalEventCreated published.
UPDATE outbox_events SET published_at = :now WHERE sequence = :external_event_created;
