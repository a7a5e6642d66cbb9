-- Due dispatch (internal/due): every worker loads the broadcasts whose
-- publication or expiry falls due within the next few seconds and applies
-- it at the instant, so no single worker holds a broadcast.

-- Published broadcasts by expiry, as broadcasts_scheduled_due (0006) orders
-- scheduled ones by due time.
CREATE INDEX broadcasts_sent_expiry ON broadcasts (expires_at) WHERE status = 'SENT';

-- The W3C traceparent of the request that created the broadcast: an event
-- recorded by a dispatcher, which has no request of its own, continues that
-- trace.
ALTER TABLE broadcasts ADD COLUMN trace_context text;
