// Package config reads Crier's configuration from environment variables,
// falling back to the file .dev/env that `make dev` writes, so `crier token`
// and a server started by hand agree with the running dev stack.
package config
