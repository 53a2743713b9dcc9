-- Seeds a migrated (all migrations), empty PostgreSQL Backbone database with a large, skewed data
-- set for EXPLAIN work and benchmarks: at scale 1, 10,000 identities, 205,000 messages with
-- 218,000 recipient entries, 233,000 external events and the rows of every other module around
-- them (about 75 s to run on two busy cores).
--
--   BACKBONE_DATABASE__URL=postgres://postgres@127.0.0.1:5432/queries_seed backbone migrate
--   psql -v ON_ERROR_STOP=1 -f tools/seed/seed.sql postgres://postgres@127.0.0.1:5432/queries_seed
--
-- `seed.scale` shrinks or grows every count (`PGOPTIONS='-c seed.scale=0.1'`, or `SET
-- seed.scale = '0.1'` before the script); bins/backbone/tests/query_plans.rs runs this script at a
-- tenth. The data is deterministic (setseed) and skewed like a real installation:
--   identity 1 ("hub")      ~27,800 messages sent and received, 20 % of the tokens, 5,000 files,
--                           a 20,000-entry datawallet, relationships with a fifth of everybody;
--   identity 2 ("backlog")  ~23,800 received messages, 16,000 of them not yet received (an
--                           offline recipient), and a long tail of unsynced external events;
--   identities 3-5          related to a fifth of everybody each, ~5,000 extra messages each;
--   everybody else          a few relationships, a few dozen messages, a few tokens and files.
-- Dates are milliseconds since the epoch, spread over the year before now.

SELECT setseed(0.42);

CREATE TEMP TABLE seed_params AS
SELECT scale,
       greatest(100, round(10000 * scale))::int AS identities,
       greatest(1000, round(150000 * scale))::int AS uniform_messages,
       greatest(100, round(10000 * scale))::int AS hub_messages,
       greatest(100, round(20000 * scale))::int AS backlog_messages,
       greatest(100, round(5000 * scale))::int AS other_hub_messages,
       greatest(100, round(20000 * scale))::int AS hub_modifications,
       greatest(100, round(40000 * scale))::int AS uniform_tokens,
       greatest(100, round(10000 * scale))::int AS hub_tokens,
       greatest(100, round(25000 * scale))::int AS uniform_files,
       greatest(100, round(5000 * scale))::int AS hub_files,
       greatest(100, round(300000 * scale))::int AS processed_events,
       greatest(100, round(200000 * scale))::int AS outbox_events,
       now_ms,
       now_ms - 365 * 86400000::bigint AS base_ms
FROM (SELECT COALESCE(NULLIF(current_setting('seed.scale', true), ''), '1')::float8 AS scale,
             (extract(epoch FROM now()) * 1000)::bigint AS now_ms) s;

-- A random time in the seeded year, later the larger `fraction` (0..1).
CREATE FUNCTION pg_temp.seed_time(fraction float8) RETURNS bigint LANGUAGE sql AS
$$ SELECT base_ms + (fraction * (now_ms - base_ms))::bigint FROM seed_params $$;

-- Devices module ------------------------------------------------------------------------------

INSERT INTO oauth_clients (client_id, display_name, secret_hash, default_tier, created_at, max_identities)
SELECT 'seed', 'seed', '$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVkc2VlZA$c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZA',
       'TIRBasic000000000000', base_ms, NULL
FROM seed_params;

CREATE TEMP TABLE seed_identities AS
SELECT i, 'did:e:localhost:dids:' || substr(md5('identity' || i), 1, 22) AS address
FROM generate_series(1, (SELECT identities FROM seed_params)) i;
CREATE UNIQUE INDEX ON seed_identities (i);
ANALYZE seed_identities;

-- The last 1 % are waiting for their deletion.
INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status,
                        deletion_grace_period_ends_at, tier_id_before_deletion)
SELECT address, 'seed', decode(md5(address) || md5(address || 'key'), 'hex'),
       CASE WHEN i > identities * 0.99 THEN 'TIR00000000000000001' ELSE 'TIRBasic000000000000' END,
       pg_temp.seed_time(i::float8 / identities / 2), 1,
       CASE WHEN i > identities * 0.99 THEN 'ToBeDeleted' ELSE 'Active' END,
       CASE WHEN i > identities * 0.99 THEN now_ms + 14 * 86400000::bigint END,
       CASE WHEN i > identities * 0.99 THEN 'TIRBasic000000000000' END
FROM seed_identities, seed_params;

-- One to three devices each, ten for the hubs.
CREATE TEMP TABLE seed_devices AS
SELECT i, d, address, 'DVC' || substr(md5('device' || i || '-' || d), 1, 17) AS id,
       'USR' || substr(md5('user' || i || '-' || d), 1, 17) AS username
FROM seed_identities, generate_series(1, CASE WHEN i <= 5 THEN 10 ELSE 1 + i % 3 END) d;

INSERT INTO devices (id, identity_address, username, normalized_username, password_hash, created_at,
                     created_by_device, last_login_at, communication_language, is_backup_device,
                     failed_login_attempts, locked_out_until)
SELECT id, address, username, upper(username),
       '$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVkc2VlZA$c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZA',
       pg_temp.seed_time(0.5 + d * 0.01), 'DVC' || substr(md5('device' || i || '-1'), 1, 17),
       CASE WHEN random() < 0.9 THEN pg_temp.seed_time(0.9 + random() * 0.1) END,
       CASE WHEN d % 4 = 0 THEN 'de' ELSE 'en' END, CASE WHEN d = 3 THEN 1 ELSE 0 END, 0, NULL
FROM seed_devices;

INSERT INTO feature_flags (identity_address, name, is_enabled)
SELECT address, flag, (i % 2)
FROM seed_identities, unnest(ARRAY['sharing', 'backup']) flag;

INSERT INTO challenges (id, expires_at, created_by, created_by_device)
SELECT 'CHL' || substr(md5('challenge' || g), 1, 17), now_ms + (random() * 2 - 1) * 600000,
       CASE WHEN g % 2 = 0 THEN (SELECT address FROM seed_identities WHERE i = 1 + g % identities) END,
       NULL
FROM generate_series(1, (SELECT identities * 2 FROM seed_params)) g, seed_params;

-- Relationships module ------------------------------------------------------------------------

-- Everybody asked three pseudo-random peers; each hub is related to a fifth of everybody.
CREATE TEMP TABLE seed_pairs AS
SELECT DISTINCT ON (least(a, b), greatest(a, b)) a, b
FROM (SELECT s.i AS a, 1 + ((s.i::bigint * 7919 + j * 104729 + j * j * 31) % identities)::int AS b
      FROM seed_identities s, generate_series(1, 3) j, seed_params
      UNION ALL
      SELECT s.i, h FROM generate_series(1, 5) h, seed_identities s WHERE s.i > 5 AND s.i % 5 = h - 1) p
WHERE a <> b
ORDER BY least(a, b), greatest(a, b), a;

-- from = the identity that allocated the template and asked, to = the template's owner.
CREATE TEMP TABLE seed_rels AS
SELECT row_number() OVER (ORDER BY p.a, p.b) AS n,
       'REL' || substr(md5('rel' || p.a || '-' || p.b), 1, 17) AS id,
       'RLT' || substr(md5('tpl' || p.a || '-' || p.b), 1, 17) AS template_id,
       p.a, p.b, fa.address AS from_address, ta.address AS to_address,
       CASE WHEN fa.address COLLATE "C" <= ta.address COLLATE "C" THEN fa.address || ' ' || ta.address
            ELSE ta.address || ' ' || fa.address END AS pair_key,
       CASE WHEN r < 0.85 THEN 'Active' WHEN r < 0.89 THEN 'Pending' WHEN r < 0.92 THEN 'Terminated'
            WHEN r < 0.94 THEN 'DeletionProposed' WHEN r < 0.97 THEN 'Rejected' WHEN r < 0.99 THEN 'Revoked'
            ELSE 'ReadyForDeletion' END AS status,
       pg_temp.seed_time(random() * 0.3) AS created_at
FROM (SELECT a, b, random() AS r FROM seed_pairs) p
JOIN seed_identities fa ON fa.i = p.a
JOIN seed_identities ta ON ta.i = p.b;
CREATE INDEX ON seed_rels (n);
ANALYZE seed_rels;

INSERT INTO relationship_templates (id, created_by, created_by_device, created_at, expires_at,
                                    max_number_of_allocations, for_identity, password, content)
SELECT template_id, to_address, 'DVC' || substr(md5('device' || b || '-1'), 1, 17), created_at - 60000,
       NULL, NULL, NULL, NULL, decode(repeat(md5(id), 8), 'hex')
FROM seed_rels
UNION ALL
-- Everybody also has a template nobody used yet (some expired, some with a password).
SELECT 'RLT' || substr(md5('unused' || i), 1, 17), address,
       'DVC' || substr(md5('device' || i || '-1'), 1, 17), pg_temp.seed_time(random()),
       CASE WHEN i % 3 = 0 THEN pg_temp.seed_time(random()) END, CASE WHEN i % 4 = 0 THEN 1 END,
       NULL, CASE WHEN i % 10 = 0 THEN '\x70617373'::bytea END, decode(repeat(md5(address), 8), 'hex')
FROM seed_identities;

INSERT INTO relationship_template_allocations (template_id, allocated_by, allocated_by_device, allocated_at)
SELECT template_id, from_address, 'DVC' || substr(md5('device' || a || '-1'), 1, 17), created_at - 30000
FROM seed_rels;

INSERT INTO relationships (id, template_id, from_address, to_address, pair_key, created_at, status,
                           creation_content, creation_response_content, from_has_decomposed, to_has_decomposed)
SELECT id, template_id, from_address, to_address, pair_key, created_at, status, decode(repeat(md5(id), 8), 'hex'),
       CASE WHEN status <> 'Pending' THEN decode(repeat(md5(pair_key), 4), 'hex') END,
       CASE WHEN status IN ('DeletionProposed', 'ReadyForDeletion') THEN 1 ELSE 0 END,
       CASE WHEN status = 'ReadyForDeletion' THEN 1 ELSE 0 END
FROM seed_rels
UNION ALL
-- One pair in twenty had an earlier relationship that ended.
SELECT 'REL' || substr(md5('old' || id), 1, 17), NULL, from_address, to_address, pair_key,
       created_at - 86400000, CASE WHEN n % 3 = 0 THEN 'Rejected' WHEN n % 3 = 1 THEN 'Revoked' ELSE 'ReadyForDeletion' END,
       decode(repeat(md5(id), 8), 'hex'), NULL, 0, 0
FROM seed_rels WHERE n % 20 = 0 AND status NOT IN ('Rejected', 'Revoked', 'ReadyForDeletion');

INSERT INTO relationship_audit_log (id, relationship_id, position, created_at, created_by, created_by_device,
                                    reason, old_status, new_status)
SELECT 'RLA' || substr(md5('audit' || r.id || '-' || e.position), 1, 17), r.id, e.position,
       r.created_at + e.position * 60000, CASE WHEN e.by_to THEN r.to_address ELSE r.from_address END,
       'DVC' || substr(md5('device' || CASE WHEN e.by_to THEN r.b ELSE r.a END || '-1'), 1, 17),
       e.reason, e.old_status, e.new_status
FROM seed_rels r
JOIN LATERAL (VALUES
    (0, false, 'Creation', NULL, 'Pending', true),
    (1, r.status <> 'Revoked', CASE r.status WHEN 'Rejected' THEN 'RejectionOfCreation' WHEN 'Revoked' THEN 'RevocationOfCreation'
                                   ELSE 'AcceptanceOfCreation' END, 'Pending',
        CASE WHEN r.status IN ('Rejected', 'Revoked') THEN r.status ELSE 'Active' END, r.status <> 'Pending'),
    (2, false, 'Termination', 'Active', 'Terminated', r.status IN ('Terminated', 'DeletionProposed', 'ReadyForDeletion')),
    (3, false, 'Decomposition', 'Terminated', 'DeletionProposed', r.status IN ('DeletionProposed', 'ReadyForDeletion')),
    (4, true, 'Decomposition', 'DeletionProposed', 'ReadyForDeletion', r.status = 'ReadyForDeletion')
) e (position, by_to, reason, old_status, new_status, present) ON e.present;

-- Messages module -----------------------------------------------------------------------------

-- Both directions of every relationship that carries messages, numbered per sender.
CREATE TEMP TABLE seed_directed AS
SELECT row_number() OVER (ORDER BY rel_id, forward) AS n,
       row_number() OVER (PARTITION BY sender ORDER BY rel_id) AS k,
       count(*) OVER (PARTITION BY sender) AS of_sender, *
FROM (SELECT r.id AS rel_id, true AS forward, r.a AS sender, r.b AS recipient, r.from_address AS sender_address,
             r.to_address AS recipient_address
      FROM seed_rels r WHERE r.status IN ('Active', 'Terminated', 'DeletionProposed')
      UNION ALL
      SELECT r.id, false, r.b, r.a, r.to_address, r.from_address
      FROM seed_rels r WHERE r.status IN ('Active', 'Terminated', 'DeletionProposed')) d;
CREATE INDEX ON seed_directed (n);
CREATE INDEX ON seed_directed (sender, k);
CREATE INDEX ON seed_directed (sender, recipient);
ANALYZE seed_directed;

-- Which directed relationship each message travels on: uniform, plus each hub's extra traffic.
CREATE TEMP TABLE seed_picks (segment text, pick bigint);
INSERT INTO seed_picks
SELECT 'uniform', 1 + floor(random() * (SELECT count(*) FROM seed_directed))::bigint
FROM generate_series(1, (SELECT uniform_messages FROM seed_params));
CREATE TEMP TABLE seed_hub_lanes AS
SELECT row_number() OVER (PARTITION BY hub, segment ORDER BY d.n) AS lane, count(*) OVER (PARTITION BY hub, segment) AS lanes,
       hub, segment, d.n
FROM seed_directed d
JOIN (VALUES (1, 'hub sends'), (1, 'hub receives'), (2, 'backlog'), (3, 'other hub'), (4, 'other hub'), (5, 'other hub'))
    AS h (hub, segment)
  ON CASE WHEN h.segment IN ('hub receives', 'backlog') THEN d.recipient = h.hub ELSE d.sender = h.hub END;
CREATE INDEX ON seed_hub_lanes (hub, segment, lane);
ANALYZE seed_hub_lanes;
INSERT INTO seed_picks
SELECT l.segment, l.n
FROM (SELECT h.hub, h.segment, 1 + floor(random() * h.lanes)::bigint AS lane
      FROM (SELECT DISTINCT hub, segment, lanes FROM seed_hub_lanes) h, seed_params p,
           generate_series(1, CASE h.segment WHEN 'backlog' THEN p.backlog_messages WHEN 'other hub' THEN p.other_hub_messages
                                             ELSE p.hub_messages END) g) x
JOIN seed_hub_lanes l ON l.hub = x.hub AND l.segment = x.segment AND l.lane = x.lane;

-- Rows go in in time order, as they would have been written.
CREATE TEMP TABLE seed_messages AS
SELECT 'MSG' || substr(md5('message' || g), 1, 17) AS id, created_at, segment, d.*
FROM (SELECT row_number() OVER () AS g, segment, pick, pg_temp.seed_time(0.3 + random() * 0.7) AS created_at
      FROM seed_picks) m
JOIN seed_directed d ON d.n = m.pick;
ANALYZE seed_messages;

INSERT INTO messages (id, created_at, created_by, created_by_device, body)
SELECT id, created_at, sender_address, 'DVC' || substr(md5('device' || sender || '-1'), 1, 17),
       decode(repeat(md5(id), 10 + (hashtext(id) & 31)), 'hex')
FROM seed_messages ORDER BY created_at;

-- The relationship's peer, and for one message in sixteen a second peer of the sender.
CREATE TEMP TABLE seed_recipients AS
SELECT id AS message_id, 0 AS position, recipient, recipient_address, rel_id AS relationship_id, created_at, segment,
       sender_address
FROM seed_messages;
INSERT INTO seed_recipients
SELECT s.id, 1, o.recipient, o.recipient_address, o.rel_id, s.created_at, 'second', s.sender_address
FROM seed_messages s
JOIN seed_directed o ON o.sender = s.sender AND o.k = 1 + s.k % s.of_sender
WHERE s.of_sender > 1 AND hashtext(s.id) % 16 = 0;

INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key, received_at,
                                received_by_device, decomposed_by_sender, decomposed_by_recipient, sender, created_at)
SELECT message_id, position, recipient_address, relationship_id, decode(md5(message_id) || md5(relationship_id), 'hex'),
       received_at, CASE WHEN received_at IS NOT NULL THEN 'DVC' || substr(md5('device' || recipient || '-1'), 1, 17) END,
       CASE WHEN hashtext(message_id || 's') % 100 = 0 THEN 1 ELSE 0 END,
       CASE WHEN hashtext(message_id || 'r') % 100 = 0 THEN 1 ELSE 0 END, sender_address, created_at
FROM (SELECT r.*, CASE WHEN (segment = 'backlog' AND random() < 0.8) OR random() < 0.03 THEN NULL
                       ELSE created_at + (random() * 86400000)::bigint END AS received_at
      FROM seed_recipients r) r
ORDER BY created_at;

INSERT INTO message_attachments (message_id, position, file_id)
SELECT id, 0, 'FIL' || substr(md5('attachment' || id), 1, 17) FROM seed_messages WHERE hashtext(id) % 20 = 1;

-- Synchronization module ----------------------------------------------------------------------

-- MessageReceived for nine recipients in ten, a status change for every relationship's peer.
CREATE TEMP TABLE seed_events AS
SELECT row_number() OVER (PARTITION BY owner ORDER BY created_at, id) - 1 AS event_index, *
FROM (SELECT 'EXE' || substr(md5('event' || message_id || position), 1, 17) AS id, recipient AS owner_i,
             recipient_address AS owner, 'MessageReceived' AS event_type,
             '{"id":"' || message_id || '"}' AS payload, created_at, relationship_id AS context
      FROM seed_recipients WHERE hashtext(message_id) % 10 <> 0
      UNION ALL
      SELECT 'EXE' || substr(md5('status' || id), 1, 17), a, from_address, 'RelationshipStatusChanged',
             '{"relationshipId":"' || id || '"}', created_at + 60000, id
      FROM seed_rels WHERE status <> 'Pending') e;
ANALYZE seed_events;

-- Events older than three days were synced in runs of twenty; the backlog identity has not
-- synced for three months.
CREATE TEMP TABLE seed_synced AS
SELECT e.*, 'SYR' || substr(md5('run' || owner || '-' || event_index / 20), 1, 17) AS run_id, event_index / 20 AS run_group
FROM seed_events e, seed_params p
WHERE e.created_at < p.now_ms - 3 * 86400000::bigint
  AND NOT (e.owner_i = 2 AND e.created_at > p.now_ms - 90 * 86400000::bigint);

-- The event runs, and five runs that found nothing per identity (clients sync often).
CREATE TEMP TABLE seed_runs AS
SELECT row_number() OVER (PARTITION BY owner ORDER BY created_at, id) - 1 AS run_index, *
FROM (SELECT run_id AS id, owner, 'ExternalEventSync' AS run_type, max(created_at) + 1000 AS created_at,
             count(*) AS event_count, min(owner_i) AS owner_i
      FROM seed_synced GROUP BY run_id, owner
      UNION ALL
      SELECT 'SYR' || substr(md5('empty' || i || '-' || g), 1, 17), address,
             CASE WHEN g = 1 THEN 'DatawalletVersionUpgrade' ELSE 'ExternalEventSync' END,
             pg_temp.seed_time(g / 6.0), 0, i
      FROM seed_identities, generate_series(1, 5) g) r;

INSERT INTO sync_runs (id, owner, run_index, run_type, created_at, created_by_device, expires_at, finalized_at, event_count)
SELECT id, owner, run_index, run_type, created_at, 'DVC' || substr(md5('device' || owner_i || '-1'), 1, 17),
       created_at + 60000, created_at + 2000, event_count
FROM seed_runs ORDER BY created_at;

INSERT INTO external_events (id, owner, event_index, event_type, payload, created_at, sync_run_id,
                             sync_error_count, is_delivery_blocked, context)
SELECT e.id, e.owner, e.event_index, e.event_type, e.payload, e.created_at, s.run_id,
       CASE WHEN hashtext(e.id) % 500 = 0 THEN 1 ELSE 0 END,
       CASE WHEN s.id IS NULL AND hashtext(e.id) % 50 = 0 THEN 1 ELSE 0 END, e.context
FROM seed_events e LEFT JOIN seed_synced s ON s.id = e.id
ORDER BY e.created_at;

INSERT INTO sync_errors (id, sync_run_id, external_event_id, error_code)
SELECT 'SYE' || substr(md5('error' || id), 1, 17), run_id, id, 'error.platform.unexpected'
FROM seed_synced WHERE hashtext(id) % 500 = 0;

INSERT INTO datawallets (id, owner, version)
SELECT 'DWL' || substr(md5('datawallet' || i), 1, 17), address, 1 FROM seed_identities;

-- A handful of modifications each, 20,000 for the hub; objects are modified several times.
INSERT INTO datawallet_modifications (id, datawallet_id, modification_index, datawallet_version, object_identifier,
                                      payload_category, collection, modification_type, encrypted_payload, created_at,
                                      created_by, created_by_device)
SELECT 'DWM' || substr(md5('modification' || i || '-' || g), 1, 17), 'DWL' || substr(md5('datawallet' || i), 1, 17),
       g - 1, 1, 'OBJ' || substr(md5('object' || i || '-' || (g % greatest(1, n / 3))), 1, 17),
       CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN 'Content' ELSE 'Metadata' END,
       (ARRAY['Relationships', 'Messages', 'Files', 'Attributes'])[1 + g % 4],
       CASE WHEN g % 7 = 0 THEN 'Delete' WHEN g % 3 = 0 THEN 'Update' ELSE 'Create' END,
       decode(repeat(md5(i || '-' || g), 6), 'hex'), pg_temp.seed_time(g::float8 / n), address,
       'DVC' || substr(md5('device' || i || '-1'), 1, 17)
FROM (SELECT s.*, CASE WHEN i = 1 THEN p.hub_modifications ELSE 2 + i % 15 END AS n
      FROM seed_identities s, seed_params p) s, generate_series(1, n) g;

-- Tokens module -------------------------------------------------------------------------------

INSERT INTO tokens (id, created_by, created_by_device, created_at, expires_at, for_identity, password, content,
                    access_failed_count)
SELECT 'TOK' || substr(md5('token' || g), 1, 17), c.address, 'DVC' || substr(md5('device' || c.i || '-1'), 1, 17),
       t.created_at, t.created_at + CASE WHEN g % 10 < 3 THEN 86400000 ELSE 400 * 86400000::bigint END,
       CASE WHEN g % 20 = 0 THEN (SELECT address FROM seed_identities WHERE i = 1 + (g * 13) % p.identities) END,
       CASE WHEN g % 33 = 0 THEN '\x70617373'::bytea END, decode(repeat(md5('token' || g), 8), 'hex'), 0
FROM seed_params p
JOIN (SELECT g, pg_temp.seed_time(random()) AS created_at
      FROM generate_series(1, (SELECT uniform_tokens + hub_tokens FROM seed_params)) g) t ON true
JOIN seed_identities c ON c.i = CASE WHEN g <= p.hub_tokens THEN 1 ELSE 1 + (g * 7) % p.identities END
ORDER BY t.created_at;

INSERT INTO token_allocations (token_id, allocated_by, allocated_by_device, allocated_at)
SELECT DISTINCT ON (t.id, a.address) t.id, a.address, 'DVC' || substr(md5('device' || a.i || '-1'), 1, 17), t.created_at + 1000
FROM (SELECT id, created_at, created_by, row_number() OVER (ORDER BY id) AS r FROM tokens) t
JOIN seed_identities a ON a.i = 1 + (t.r * 31) % (SELECT identities FROM seed_params)
WHERE t.r % 5 <> 0 AND a.address <> t.created_by;

-- Files module --------------------------------------------------------------------------------

INSERT INTO files (id, created_at, created_by, created_by_device, owner, owner_signature, ownership_token,
                   ownership_is_locked, last_ownership_claim_at, cipher_size, cipher_hash, expires_at,
                   encrypted_properties)
SELECT 'FIL' || substr(md5('file' || g), 1, 17), f.created_at, c.address,
       'DVC' || substr(md5('device' || c.i || '-1'), 1, 17), c.address, decode(md5('sig' || g), 'hex'),
       substr(md5('own' || g), 1, 20), 0, NULL, 1000 + g % 100000, decode(md5('hash' || g), 'hex'),
       f.created_at + CASE WHEN g % 10 = 0 THEN 86400000 ELSE 400 * 86400000::bigint END,
       decode(repeat(md5('props' || g), 4), 'hex')
FROM seed_params p
JOIN (SELECT g, pg_temp.seed_time(random()) AS created_at
      FROM generate_series(1, (SELECT uniform_files + hub_files FROM seed_params)) g) f ON true
JOIN seed_identities c ON c.i = CASE WHEN g <= p.hub_files THEN 1 ELSE 1 + (g * 11) % p.identities END
ORDER BY f.created_at;

-- Push notifications --------------------------------------------------------------------------

INSERT INTO push_registrations (device_id, identity_address, device_push_identifier, platform, handle, app_id,
                                environment, updated_at)
SELECT id, address, 'DPI' || substr(md5('dpi' || id), 1, 17), CASE WHEN i % 2 = 0 THEN 'fcm' ELSE 'apns' END,
       md5('handle' || id), 'eu.enmeshed.app', 'Production', pg_temp.seed_time(random())
FROM seed_devices WHERE (i + d) % 4 = 0;

-- Event handling ------------------------------------------------------------------------------

INSERT INTO processed_events (consumer, event_id)
SELECT (ARRAY['Messages.RelationshipStatusChanged', 'Devices.PushNotifications', 'Synchronization.ExternalEvents',
              'Relationships.FeatureFlagsOfIdentityChanged'])[1 + g % 4],
       md5('domain event' || g)
FROM generate_series(1, (SELECT processed_events FROM seed_params)) g;

INSERT INTO outbox_events (event_id, event_type, payload, created_at, published_at, claimed_until)
SELECT md5('outbox' || g), CASE WHEN g % 3 = 0 THEN 'MessageCreated' ELSE 'ExternalEventCreated' END,
       '{"Id":"' || md5('payload' || g) || '"}', pg_temp.seed_time(g::float8 / n),
       CASE WHEN g < n - 5 THEN pg_temp.seed_time(g::float8 / n) + 50 END, NULL
FROM (SELECT outbox_events AS n FROM seed_params) p, generate_series(1, n) g;

-- Identity deletion ---------------------------------------------------------------------------

INSERT INTO identity_deletion_processes (id, identity_address, status, created_at, created_by_device,
                                         grace_period_ends_at, grace_period_reminder1_sent_at,
                                         grace_period_reminder2_sent_at, grace_period_reminder3_sent_at,
                                         cancelled_at, deletion_started_at, lease_until)
SELECT 'IDP' || substr(md5('deletion' || i), 1, 17), address,
       CASE WHEN i > identities * 0.99 THEN 'Active' ELSE 'Cancelled' END, now_ms - 86400000,
       'DVC' || substr(md5('device' || i || '-1'), 1, 17),
       CASE WHEN i > identities * 0.99 THEN now_ms + 13 * 86400000::bigint END, NULL, NULL, NULL,
       CASE WHEN i <= identities * 0.99 THEN now_ms - 3600000 END, NULL, NULL
FROM seed_identities, seed_params
WHERE i > identities * 0.99 OR i % 50 = 0;

INSERT INTO identity_deletion_audit_log (id, process_id, created_at, identity_address_hash, device_id_hash, message_key,
                                         old_status, new_status, additional_data, username_hashes)
SELECT 'IDA' || substr(md5('deletion audit' || p.id || k), 1, 17), p.id, p.created_at + k, md5('hash' || p.identity_address),
       md5('device hash' || p.id), CASE k WHEN 0 THEN 'StartedByOwner' ELSE 'CancelledByOwner' END,
       CASE k WHEN 0 THEN NULL ELSE 'Active' END, CASE k WHEN 0 THEN 'Active' ELSE 'Cancelled' END, NULL, NULL
FROM identity_deletion_processes p, generate_series(0, 1) k
WHERE k = 0 OR p.status = 'Cancelled';

ANALYZE;
