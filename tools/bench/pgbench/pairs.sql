-- The related pairs of the benchmark's set-up, numbered for the pgbench scripts: the sender is
-- the side that requested the relationship, as in the `send` scenario.
CREATE TABLE bench_pairs AS
SELECT row_number() OVER (ORDER BY r.created_at, r.id) AS n,
       r.from_address AS sender,
       r.to_address AS recipient,
       r.id AS relationship_id,
       r.pair_key,
       (SELECT d.id FROM devices d WHERE d.identity_address = r.from_address ORDER BY d.created_at LIMIT 1)
           AS sender_device
FROM relationships r
WHERE r.status = 'Active';
CREATE UNIQUE INDEX bench_pairs_n ON bench_pairs (n);
-- Only the new table: the others keep the statistics of the copy the server runs on.
ANALYZE bench_pairs;
