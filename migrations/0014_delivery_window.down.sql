ALTER TABLE series DROP COLUMN delivery_window;
ALTER TABLE broadcasts DROP COLUMN delivery_window;
