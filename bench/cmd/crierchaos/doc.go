// Command crierchaos runs make chaos's scenarios (package chaos) on the
// services scripts/chaos.sh started, and writes CHAOS.md: per scenario the
// fault, what the harness did and saw, the checks' counts and the lateness,
// and the machine and versions it ran on.
package main
