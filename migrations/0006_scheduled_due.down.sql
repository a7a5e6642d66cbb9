DROP INDEX IF EXISTS broadcasts_scheduled_due;
