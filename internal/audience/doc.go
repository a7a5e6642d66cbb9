// Package audience knows who a broadcast reaches. It keeps the user
// directory (users set by admins or learned from their tokens) and searches
// it, lists the roles its users hold, counts the audience of a target,
// materializes a broadcast's audience when its publication is consumed from
// Kafka (the targeted count, and one delivery row per user of a SELECTED
// target: fan-out on write), and reports per-broadcast delivery statistics.
package audience
