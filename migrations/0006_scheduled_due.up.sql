-- Scheduled broadcasts by due time: how many fall due around a moment (a
-- burst) decides how early each new one's workflow wakes (workflows.Lead).
CREATE INDEX broadcasts_scheduled_due ON broadcasts (scheduled_at) WHERE status = 'SCHEDULED';
