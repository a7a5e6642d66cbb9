package audience_test

import (
	"encoding/base64"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
)

func TestStats(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, all())

	st, err := tb.audience.Stats(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, audience.Stats{BroadcastID: b.ID}, st, "not counted yet: all zero")

	_, err = tb.pool.Exec(tb.ctx, `INSERT INTO broadcast_stats (broadcast_id, targeted) VALUES ($1, 3)`, b.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `
		INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at, read_at) VALUES
			($1, 'delivered', 'DELIVERED', now(), NULL),
			($1, 'read', 'DELIVERED', now(), now()),
			($1, 'read-elsewhere', 'DELIVERED', NULL, now()),
			($1, 'pending', 'PENDING', NULL, NULL)`, b.ID)
	require.NoError(t, err)

	st, err = tb.audience.Stats(tb.ctx, b.ID)
	require.NoError(t, err)
	require.True(t, st.Counted)
	require.NotNil(t, st.CountedAt)
	require.Equal(t, int64(3), st.Targeted)
	require.Equal(t, int64(3), st.Delivered, "a read delivery counts as delivered")
	require.Equal(t, int64(2), st.Read)
	require.InDelta(t, 1.0, st.DeliveryRate, 1e-9)
	require.InDelta(t, 0.6667, st.ReadRate, 1e-9, "rounded to 4 decimals")

	_, err = tb.audience.Stats(tb.ctx, uuid.New())
	require.ErrorIs(t, err, audience.ErrNotFound)
}

func TestStatsRatesStayWithinOne(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, all())
	_, err := tb.pool.Exec(tb.ctx, `INSERT INTO broadcast_stats (broadcast_id, targeted) VALUES ($1, 1)`, b.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at)
		SELECT $1, 'u' || i, 'DELIVERED', now() FROM generate_series(1, 3) i`, b.ID)
	require.NoError(t, err)

	st, err := tb.audience.Stats(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), st.Delivered, "users who joined after the count")
	require.InDelta(t, 1.0, st.DeliveryRate, 1e-9)
	require.Zero(t, st.ReadRate)
}

func TestDeliveriesPagesByUserID(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, selected("u3", "u1", "u5", "u2", "u4"))
	other := tb.insert(t, all())
	_, err := tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id) SELECT $1, unnest($2::text[])`,
		b.ID, []string{"u3", "u1", "u5", "u2", "u4"})
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `UPDATE deliveries SET status = 'DELIVERED', delivered_at = now(), read_at = now() WHERE user_id = 'u2'`)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id) VALUES ($1, 'u0')`, other.ID)
	require.NoError(t, err)

	var seen []string
	cursor, pages := "", 0
	for {
		page, next, err := tb.audience.Deliveries(tb.ctx, b.ID, cursor, 2)
		require.NoError(t, err)
		pages++
		for _, d := range page {
			seen = append(seen, d.UserID)
			if d.UserID == "u2" {
				require.Equal(t, "DELIVERED", d.Status)
				require.NotNil(t, d.DeliveredAt)
				require.NotNil(t, d.ReadAt)
			} else {
				require.Equal(t, "PENDING", d.Status)
				require.Nil(t, d.DeliveredAt)
				require.Nil(t, d.ReadAt)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, 3, pages)
	require.Equal(t, []string{"u1", "u2", "u3", "u4", "u5"}, seen)

	page, next, err := tb.audience.Deliveries(tb.ctx, b.ID, "", 0)
	require.NoError(t, err)
	require.Len(t, page, 5, "the default page holds 50")
	require.Empty(t, next)

	empty, next, err := tb.audience.Deliveries(tb.ctx, tb.insert(t, all()).ID, "", 10)
	require.NoError(t, err)
	require.Empty(t, empty)
	require.Empty(t, next)
}

func TestDeliveriesRefusals(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, all())

	_, _, err := tb.audience.Deliveries(tb.ctx, uuid.New(), "", 10)
	require.ErrorIs(t, err, audience.ErrNotFound)
	for _, cursor := range []string{"!!!", base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe}), base64.RawURLEncoding.EncodeToString([]byte("a\x00"))} {
		_, _, err = tb.audience.Deliveries(tb.ctx, b.ID, cursor, 10)
		require.ErrorIs(t, err, audience.ErrBadCursor, "cursor %q", cursor)
	}
	for _, limit := range []int{-1, audience.MaxDeliveriesLimit + 1} {
		_, _, err = tb.audience.Deliveries(tb.ctx, b.ID, "", limit)
		require.Error(t, err)
	}
}
