-- Quotas module: quota definitions of tiers and individual quotas of identities, the seeded
-- quotas of the "Queued for Deletion" tier, and the indexes the quota check needs to count an
-- identity's usage within a period window (see crates/quotas).
-- Tiers and the identity -> tier assignment stay in the Devices module; the Quotas module asks
-- for them through a port and keeps no copy.

CREATE TABLE tier_quota_definitions (
    id TEXT PRIMARY KEY,
    tier_id TEXT NOT NULL,
    metric_key TEXT NOT NULL,
    max BIGINT NOT NULL,
    period TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- One quota per metric and period per tier, also under concurrent requests.
    UNIQUE (tier_id, metric_key, period)
);

CREATE TABLE individual_quotas (
    id TEXT PRIMARY KEY,
    identity_address TEXT NOT NULL,
    metric_key TEXT NOT NULL,
    max BIGINT NOT NULL,
    period TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (identity_address, metric_key, period)
);

-- A deleting identity may create nothing but datawallet modifications (and no second
-- deletion process is possible anyway). Operators cannot change these.
INSERT INTO tier_quota_definitions (id, tier_id, metric_key, max, period, created_at) VALUES
    ('TQD00000000000000001', 'TIR00000000000000001', 'NumberOfSentMessages', 0, 'Total', 0),
    ('TQD00000000000000002', 'TIR00000000000000001', 'NumberOfRelationships', 0, 'Total', 0),
    ('TQD00000000000000003', 'TIR00000000000000001', 'NumberOfRelationshipTemplates', 0, 'Total', 0),
    ('TQD00000000000000004', 'TIR00000000000000001', 'NumberOfFiles', 0, 'Total', 0),
    ('TQD00000000000000005', 'TIR00000000000000001', 'NumberOfTokens', 0, 'Total', 0),
    ('TQD00000000000000006', 'TIR00000000000000001', 'UsedFileStorageSpace', 0, 'Total', 0),
    ('TQD00000000000000007', 'TIR00000000000000001', 'NumberOfCreatedChallenges', 0, 'Total', 0),
    ('TQD00000000000000008', 'TIR00000000000000001', 'NumberOfCreatedDevices', 0, 'Total', 0);

-- Usage counting: every metric is an index range (creator, creation time). Messages, tokens,
-- files and devices have such indexes already; these widen or add the others'.
DROP INDEX relationship_templates_created_by;
CREATE INDEX relationship_templates_created_by ON relationship_templates (created_by, created_at);
DROP INDEX relationships_from;
CREATE INDEX relationships_from ON relationships (from_address, created_at);
DROP INDEX relationships_to;
CREATE INDEX relationships_to ON relationships (to_address, created_at);
-- Challenges have a fixed lifetime and no creation time: their window is one of expiry times.
CREATE INDEX challenges_created_by ON challenges (created_by, expires_at) WHERE created_by IS NOT NULL;
CREATE INDEX datawallet_modifications_created_by ON datawallet_modifications (created_by, created_at);
-- IF NOT EXISTS: the query-plans work adds the same index under the same name.
CREATE INDEX IF NOT EXISTS identity_deletion_processes_identity
    ON identity_deletion_processes (identity_address, created_at);
