-- Relationships module: templates with their allocations, relationships with their audit log.
-- Dates are milliseconds since the Unix epoch; booleans are 0/1 BIGINTs.

CREATE TABLE relationship_templates (
    id TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_by_device TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NULL,
    max_number_of_allocations BIGINT NULL,
    for_identity TEXT NULL,
    password BLOB NULL,
    content BLOB NOT NULL
);
CREATE INDEX relationship_templates_created_by ON relationship_templates (created_by);

CREATE TABLE relationship_template_allocations (
    template_id TEXT NOT NULL REFERENCES relationship_templates (id) ON DELETE CASCADE,
    allocated_by TEXT NOT NULL,
    allocated_by_device TEXT NOT NULL,
    allocated_at BIGINT NOT NULL,
    PRIMARY KEY (template_id, allocated_by)
);
CREATE INDEX relationship_template_allocations_allocated_by ON relationship_template_allocations (allocated_by);

CREATE TABLE relationships (
    id TEXT PRIMARY KEY,
    template_id TEXT NULL REFERENCES relationship_templates (id) ON DELETE SET NULL,
    from_address TEXT NOT NULL,
    to_address TEXT NOT NULL,
    -- The two addresses in sorted order, so a pair has one key whoever requested.
    pair_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    creation_content BLOB NULL,
    creation_response_content BLOB NULL,
    from_has_decomposed BIGINT NOT NULL DEFAULT 0,
    to_has_decomposed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX relationships_from ON relationships (from_address);
CREATE INDEX relationships_to ON relationships (to_address);
CREATE INDEX relationships_pair ON relationships (pair_key);
-- At most one relationship per pair that is not rejected, revoked or ready for deletion: two
-- concurrent requests to the same peer cannot both succeed.
CREATE UNIQUE INDEX relationships_one_open_per_pair ON relationships (pair_key)
    WHERE status IN ('Pending', 'Active', 'Terminated', 'DeletionProposed');

CREATE TABLE relationship_audit_log (
    id TEXT PRIMARY KEY,
    relationship_id TEXT NOT NULL REFERENCES relationships (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_device TEXT NULL,
    reason TEXT NOT NULL,
    old_status TEXT NULL,
    new_status TEXT NOT NULL,
    UNIQUE (relationship_id, position)
);
