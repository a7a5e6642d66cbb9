package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetentionDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(nil))
	require.NoError(t, err)
	require.Equal(t, Retention{
		Outbox: 24 * time.Hour, ProcessedEvents: 14 * 24 * time.Hour, Deliveries: 90 * 24 * time.Hour, Temporal: 7 * 24 * time.Hour,
	}, c.Retention)
}

// A soak test shortens the horizons to minutes; off keeps the rows (or
// leaves the namespace alone).
func TestRetentionShortenedOrOff(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{
		"CRIER_RETAIN_OUTBOX": "1m", "CRIER_RETAIN_PROCESSED_EVENTS": "5m", "CRIER_RETAIN_DELIVERIES": "off",
		"CRIER_TEMPORAL_RETENTION": "OFF",
	}))
	require.NoError(t, err)
	require.Equal(t, Retention{Outbox: time.Minute, ProcessedEvents: 5 * time.Minute}, c.Retention)
}

func TestRetentionBounds(t *testing.T) {
	t.Parallel()
	for key, value := range map[string]string{
		"CRIER_RETAIN_OUTBOX":           "30s",
		"CRIER_RETAIN_PROCESSED_EVENTS": "0s",
		"CRIER_RETAIN_DELIVERIES":       "87601h",
		"CRIER_TEMPORAL_RETENTION":      "12h",
	} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			_, err := parse(lookup(map[string]string{key: value}))
			require.ErrorContains(t, err, key+" must be a duration from ")
			require.ErrorContains(t, err, "or off")
		})
	}
	_, err := parse(lookup(map[string]string{"CRIER_RETAIN_OUTBOX": "a day"}))
	require.ErrorContains(t, err, `CRIER_RETAIN_OUTBOX must be a duration from 1m0s to 87600h0m0s such as 24h, or off, got "a day"`)
}
