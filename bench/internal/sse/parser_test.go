package sse

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestParserKeepsWhatClientsNeed(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	stream := ": caught up\n\n" +
		": heartbeat\n\n" +
		"id: v1:1.2.3.4.5.6\nevent: broadcast\ndata: {\"id\":\"" + id.String() + "\",\"title\":\"" +
		strings.Repeat("long ", 200) + "\"}\n\n" +
		"id: v1:1.2.3.4.5.7\r\nevent: retract\r\ndata: {\"id\":\"" + id.String() + "\",\"reason\":\"cancelled\"}\r\n\r\n" +
		"event: shutdown\ndata: {\"reason\":\"server shutting down\",\"reconnect\":true}\n\n"
	// Any split of the bytes between reads gives the same events.
	for _, size := range []int{1, 7, 512, len(stream)} {
		var (
			p   Parser
			got []Event
		)
		for b := []byte(stream); len(b) > 0; {
			n := min(size, len(b))
			p.Feed(b[:n], func(ev Event) { got = append(got, ev) })
			b = b[n:]
		}
		require.Equal(t, []Event{
			{Comment: "caught up"}, {Comment: "heartbeat"},
			{Name: "broadcast", ID: "v1:1.2.3.4.5.6", Broadcast: id},
			{Name: "retract", ID: "v1:1.2.3.4.5.7", Broadcast: id},
			{Name: "shutdown"},
		}, got, "reads of %d bytes", size)
	}
}

func TestParserKeepsALongPosition(t *testing.T) {
	t.Parallel()
	pos := "v1:" + strings.TrimSuffix(strings.Repeat("9223372036854775807.", 8), ".")
	var got []Event
	var p Parser
	p.Feed([]byte("id: "+pos+"\nevent: read\ndata: {}\n\n"), func(ev Event) { got = append(got, ev) })
	require.Equal(t, []Event{{Name: "read", ID: pos}}, got)
}
