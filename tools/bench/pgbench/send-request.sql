-- The SQL of one POST /api/v2/Messages on PostgreSQL (one recipient, 1 KiB body), as the
-- server runs it: captured with log_statement = 'all' from crates/messages/src/service.rs
-- `send`, store.rs and crates/db/src/outbox.rs. Client `:client_id` uses only the pairs
-- n = client_id + 1 (mod :clients), as the senders of the `send` scenario do.
\set k random(0, :npairs / :clients - 1)
\set pair 1 + :client_id + :k * :clients
-- Not part of a send: picks the pair and makes the IDs and payloads the server would make
-- (JSON built with jsonb_build_object: pgbench would take ":name" inside literals for a variable).
SELECT p.sender, p.recipient, p.relationship_id, p.sender_device, p.pair_key, v.message_id, v.event_id, v.now,
       decode(repeat('2a', 1024), 'hex') AS body, decode(repeat('07', 64), 'hex') AS encrypted_key,
       jsonb_build_object('CreatedBy', p.sender, 'Id', v.message_id, 'Recipients', jsonb_build_array(jsonb_build_object(
           'Address', p.recipient, 'IsDeliveryBlocked', false, 'RelationshipId', p.relationship_id)))::text AS payload
FROM bench_pairs p,
     (SELECT 'MSG' || substr(md5(random()::text), 1, 17) AS message_id, md5(random()::text) AS event_id,
             (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now) v
WHERE p.n = :pair \gset
-- RelationshipLookup::youngest_between (on its own pooled connection, outside the transaction)
SELECT id, status FROM relationships WHERE pair_key = :pair_key ORDER BY created_at DESC, id DESC LIMIT 1;
BEGIN;
SELECT COUNT(*) FROM message_recipients r JOIN messages m ON m.id = r.message_id
    WHERE m.created_by = :sender AND r.address = :recipient AND r.received_at IS NULL;
INSERT INTO messages (id, created_at, created_by, created_by_device, body)
    VALUES (:message_id, :now, :sender, :sender_device, :body);
INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key)
    VALUES (:message_id, 0, :recipient, :relationship_id, :encrypted_key);
INSERT INTO outbox_events (event_id, event_type, payload, created_at)
    VALUES (:event_id, 'MessageCreated', :payload, :now);
COMMIT;
