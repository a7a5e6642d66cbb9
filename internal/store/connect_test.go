package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// A pool gives up connecting after DefaultConnectTimeout, or the URL's own
// connect_timeout, and holds DefaultMaxConns, or the URL's pool_max_conns.
func TestConnectBoundsConnecting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)

	pool, err := store.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Equal(t, store.DefaultConnectTimeout, pool.Config().ConnConfig.ConnectTimeout)
	require.EqualValues(t, store.DefaultMaxConns, pool.Config().MaxConns)

	pool, err = store.Connect(ctx, url+"&connect_timeout=2&pool_max_conns=3")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Equal(t, 2*time.Second, pool.Config().ConnConfig.ConnectTimeout)
	require.EqualValues(t, 3, pool.Config().MaxConns)
}
