-- +goose Up
-- Each request carries the sum and the number of its QA scores, kept by the
-- requests store in the transaction that adds a review (see the PostgreSQL
-- migration).
ALTER TABLE requests ADD COLUMN qa_score_sum integer NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN qa_reviews integer NOT NULL DEFAULT 0;
UPDATE requests
SET qa_score_sum = (SELECT COALESCE(SUM(score), 0) FROM request_qa WHERE request_qa.request_id = requests.id),
    qa_reviews = (SELECT COUNT(*) FROM request_qa WHERE request_qa.request_id = requests.id);

CREATE INDEX requests_measured ON requests (opened_at) WHERE merged_into_id IS NULL;
DROP INDEX requests_opened;

-- +goose Down
CREATE INDEX requests_opened ON requests (opened_at);
DROP INDEX requests_measured;
ALTER TABLE requests DROP COLUMN qa_score_sum;
ALTER TABLE requests DROP COLUMN qa_reviews;
