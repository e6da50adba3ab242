-- +goose Up
-- Each request carries the sum and the number of its QA scores, kept by the
-- requests store in the transaction that adds a review. The queue and the
-- card then show the average without a subquery per row, and the support
-- report reads load, CSAT and QA from one index alone.
ALTER TABLE requests
    ADD COLUMN qa_score_sum integer NOT NULL DEFAULT 0,
    ADD COLUMN qa_reviews   integer NOT NULL DEFAULT 0;
UPDATE requests r
SET qa_score_sum = q.score_sum, qa_reviews = q.reviews
FROM (SELECT request_id, SUM(score) AS score_sum, COUNT(*) AS reviews FROM request_qa GROUP BY request_id) q
WHERE q.request_id = r.id;

-- What the support report reads of the requests it measures (every request
-- but a merged one), in an index-only scan over the period.
CREATE INDEX requests_measured ON requests (opened_at)
    INCLUDE (owner_id, account_id, touches, csat, qa_score_sum, qa_reviews)
    WHERE merged_into_id IS NULL;
DROP INDEX requests_opened;

-- The same for the clocks, one index per kind: the report takes the kinds
-- one by one and so never sorts or filters by kind.
CREATE INDEX request_clocks_first_response ON request_clocks (opened_at)
    INCLUDE (elapsed_seconds, target_seconds, stopped_at, breached, owner_id, account_id)
    WHERE clock = 'first_response';
CREATE INDEX request_clocks_follow_up ON request_clocks (opened_at)
    INCLUDE (elapsed_seconds, target_seconds, stopped_at, breached, owner_id, account_id)
    WHERE clock = 'follow_up';
CREATE INDEX request_clocks_resolution ON request_clocks (opened_at)
    INCLUDE (elapsed_seconds, target_seconds, stopped_at, breached, owner_id, account_id)
    WHERE clock = 'resolution';
DROP INDEX request_clocks_opened;

-- +goose Down
CREATE INDEX request_clocks_opened ON request_clocks (opened_at)
    INCLUDE (clock, elapsed_seconds, target_seconds, stopped_at, breached, owner_id, account_id);
DROP INDEX request_clocks_first_response;
DROP INDEX request_clocks_follow_up;
DROP INDEX request_clocks_resolution;
CREATE INDEX requests_opened ON requests (opened_at);
DROP INDEX requests_measured;
ALTER TABLE requests DROP COLUMN qa_score_sum, DROP COLUMN qa_reviews;
