-- Events (platform/messaging): the outbox holds the events this service
-- publishes until the broker acknowledged them (then the relay deletes
-- them); the inbox records the events it handled, so that a redelivery is
-- not applied twice.
CREATE TABLE outbox (
    seq        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    payload    BYTEA       NOT NULL,
    headers    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE inbox (
    event_id   TEXT        PRIMARY KEY,
    type       TEXT        NOT NULL,
    source     TEXT        NOT NULL,
    item_id    BIGINT      NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL
);
