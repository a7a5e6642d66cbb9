package store

// DueBeforeSQL is the statement of DueBefore, for the plan test.
var DueBeforeSQL = dueBeforeSQL
