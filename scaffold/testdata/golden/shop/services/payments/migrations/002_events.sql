-- Events (platform/messaging): the outbox holds the events this service
-- publishes until the broker acknowledged them (then the relay deletes
-- them); a row the broker keeps refusing moves to outbox_dead. The inbox
-- records the events this service handled, so that a redelivery is not
-- applied twice; the consumer prunes it by age.
--
-- The relay publishes by seq, taken when an event is added: after the
-- change it announces, which holds the row's lock until commit, so an
-- item's events leave in commit order (platform/messaging/outbox.go).
CREATE TABLE outbox (
    seq        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    payload    BYTEA       NOT NULL,
    headers    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    attempts   INTEGER     NOT NULL DEFAULT 0
);
CREATE TABLE outbox_dead (
    seq        BIGINT      PRIMARY KEY,
    id         TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    payload    BYTEA       NOT NULL,
    headers    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    attempts   INTEGER     NOT NULL,
    error      TEXT        NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE inbox (
    event_id   TEXT        PRIMARY KEY,
    type       TEXT        NOT NULL,
    source     TEXT        NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_handled_at ON inbox (handled_at);
