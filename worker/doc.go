// Package worker runs the Temporal worker that executes broadcast workflows
// and their activities.
package worker
