-- Events (platform/messaging): the outbox holds events this service
-- publishes until the broker acknowledged them; the inbox records the
-- events it handled, so that a redelivery is not applied twice.
CREATE TABLE outbox (
    seq        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT        NOT NULL UNIQUE,
    subject    TEXT        NOT NULL,
    payload    BYTEA       NOT NULL,
    headers    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE inbox (
    event_id   TEXT        PRIMARY KEY,
    type       TEXT        NOT NULL,
    source     TEXT        NOT NULL,
    item_id    BIGINT      NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL
);
