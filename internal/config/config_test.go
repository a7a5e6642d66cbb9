package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lookup(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaultsInDevelopment(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(nil))
	require.NoError(t, err)
	require.True(t, c.Development())
	require.Equal(t, DevJWTSecret, c.JWTSecret)
	require.Equal(t, []string{"127.0.0.1:9092"}, c.KafkaBrokers)
	require.Equal(t, "broadcast_messages", c.KafkaTopic)
	require.Equal(t, 6, c.KafkaPartitions)
	require.Equal(t, 720*time.Hour, c.DefaultExpiry)
	require.Equal(t, "text", c.LogFormat)
}

func TestProductionRefusesUnsafeSettings(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"no secret":       {map[string]string{}, "CRIER_JWT_SECRET is required"},
		"dev secret":      {map[string]string{"CRIER_JWT_SECRET": DevJWTSecret}, "development secret"},
		"short secret":    {map[string]string{"CRIER_JWT_SECRET": "short"}, "at least 32 bytes"},
		"embedded kafka":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "KAFKA_BROKERS": "embedded"}, "development only"},
		"bad duration":    {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_DEFAULT_EXPIRY": "soon"}, "CRIER_DEFAULT_EXPIRY"},
		"bad partitions":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_KAFKA_PARTITIONS": "0"}, "at least 1"},
		"unknown env":     {map[string]string{"CRIER_ENV": "staging"}, "development or production"},
		"bad log format":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_LOG_FORMAT": "xml"}, "text or json"},
		"bad bool":        {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_MIGRATE": "maybe"}, "true or false"},
		"bad batch count": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_RELAY_BATCH_SIZE": "lots"}, "whole number"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"CRIER_ENV": "production"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			_, err := parse(lookup(vars))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestProductionWithAGoodSecret(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{"CRIER_ENV": "production", "CRIER_JWT_SECRET": strings.Repeat("k", 40)}))
	require.NoError(t, err)
	require.Equal(t, "json", c.LogFormat)
}

// Load reads the env file make dev writes, and the environment wins over it.
func TestLoadReadsTheEnvFileUnderTheEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(file, []byte(`# written by make dev
export DATABASE_URL='postgres://file/crier'
export KAFKA_BROKERS="127.0.0.1:1111,127.0.0.1:2222"
CRIER_HTTP_ADDR=127.0.0.1:9999
`), 0o600))
	t.Setenv("CRIER_ENV_FILE", file)
	t.Setenv("DATABASE_URL", "") // empty counts as unset: make test exports these
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("CRIER_HTTP_ADDR", "127.0.0.1:7777")

	c, err := Load()

	require.NoError(t, err)
	require.Equal(t, "postgres://file/crier", c.DatabaseURL)
	require.Equal(t, []string{"127.0.0.1:1111", "127.0.0.1:2222"}, c.KafkaBrokers)
	require.Equal(t, "127.0.0.1:7777", c.HTTPAddr, "the environment wins over the file")
}
