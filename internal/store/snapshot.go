package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/window"
)

// snapshot is a broadcast row as PostgreSQL's row_to_json writes it into the
// outbox: the columns of the `columns` list, keyed by column name.
type snapshot struct {
	ID            uuid.UUID            `json:"id"`
	Status        broadcast.Status     `json:"status"`
	SenderID      string               `json:"sender_id"`
	SenderName    string               `json:"sender_name"`
	Title         string               `json:"title"`
	Content       string               `json:"content"`
	Category      string               `json:"category"`
	Priority      broadcast.Priority   `json:"priority"`
	TargetType    broadcast.TargetType `json:"target_type"`
	TargetIDs     []string             `json:"target_ids"`
	ScheduledAt   *time.Time           `json:"scheduled_at"`
	ExpiresAt     *time.Time           `json:"expires_at"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
	PublishedAt   *time.Time           `json:"published_at"`
	ExpiredAt     *time.Time           `json:"expired_at"`
	CancelledAt   *time.Time           `json:"cancelled_at"`
	FailureReason *string              `json:"failure_reason"`
	WorkflowID    string               `json:"workflow_id"`
	SeriesID      *uuid.UUID           `json:"series_id"`
	OccurrenceAt  *time.Time           `json:"occurrence_at"`
	// DeliveryWindow is absent from snapshots written before it existed.
	DeliveryWindow *window.Window `json:"delivery_window"`
	// The local-time columns are absent from snapshots written before them.
	LocalTime       *broadcast.LocalTime `json:"local_time"`
	DefaultTimeZone string               `json:"default_time_zone"`
	Waves           []broadcast.Wave     `json:"waves"`
	WavesSent       int                  `json:"waves_sent"`
}

// DecodeSnapshot turns an outbox snapshot back into the broadcast it records.
func DecodeSnapshot(raw []byte) (broadcast.Broadcast, error) {
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("decode outbox snapshot: %w", err)
	}
	b := broadcast.Broadcast{
		ID:          s.ID,
		Status:      s.Status,
		Sender:      broadcast.Sender{ID: s.SenderID, Name: s.SenderName},
		Title:       s.Title,
		Content:     s.Content,
		Category:    s.Category,
		Priority:    s.Priority,
		Target:      broadcast.Target{Type: s.TargetType, IDs: s.TargetIDs},
		ScheduledAt: s.ScheduledAt,
		ExpiresAt:   s.ExpiresAt,
		CreatedAt:   s.CreatedAt,
		UpdatedAt:   s.UpdatedAt,
		PublishedAt: s.PublishedAt,
		ExpiredAt:   s.ExpiredAt,
		CancelledAt: s.CancelledAt,
		WorkflowID:  s.WorkflowID,
		SeriesID:    s.SeriesID, OccurrenceAt: s.OccurrenceAt, DeliveryWindow: s.DeliveryWindow,
		LocalTime: s.LocalTime, DefaultTimeZone: s.DefaultTimeZone, Waves: s.Waves, WavesSent: s.WavesSent,
	}
	if s.FailureReason != nil {
		b.FailureReason = *s.FailureReason
	}
	normalizeTimes(&b)
	return b, nil
}
