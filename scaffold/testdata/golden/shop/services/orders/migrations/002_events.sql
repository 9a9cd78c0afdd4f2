-- Events (platform/messaging): the outbox holds the events this service
-- publishes until the broker acknowledged them (then the relay deletes
-- them); the inbox records the events it handled, so that a redelivery is
-- not applied twice.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    id         TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    payload    BLOB      NOT NULL,
    headers    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE inbox (
    event_id   TEXT      PRIMARY KEY,
    type       TEXT      NOT NULL,
    source     TEXT      NOT NULL,
    item_id    INTEGER   NOT NULL,
    handled_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
