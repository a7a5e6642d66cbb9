package kafkaconn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/kafkaconn"
	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/testenv"
)

func TestCheckNamesTheVariableToFix(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		s    kafkaconn.Security
		want string
	}{
		"unknown mechanism":  {kafkaconn.Security{SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "p"}, "KAFKA_SASL_MECHANISM must be SCRAM-SHA-512 or SCRAM-SHA-256"},
		"no password":        {kafkaconn.Security{SASLMechanism: kafkaconn.ScramSHA512, SASLUsername: "u"}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"},
		"user, no mechanism": {kafkaconn.Security{SASLUsername: "u", SASLPassword: "p"}, "without KAFKA_SASL_MECHANISM"},
		"CA without TLS":     {kafkaconn.Security{TLSCAFile: "/ca.pem"}, "KAFKA_TLS is not true"},
		"cert without key":   {kafkaconn.Security{TLS: true, TLSCertFile: "/c.pem"}, "both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.ErrorContains(t, tc.s.Check(), tc.want)
			_, err := kafkaconn.New(tc.s)
			require.ErrorContains(t, err, tc.want, "New refuses what Check refuses")
		})
	}
	require.NoError(t, kafkaconn.Security{}.Check(), "PLAINTEXT without credentials is valid (a loopback dev broker)")
}

func TestStringNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	s := kafkaconn.Security{SASLMechanism: kafkaconn.ScramSHA512, SASLUsername: "crier", SASLPassword: "hunter2-secret", TLS: true}
	require.Equal(t, "SASL_SSL SCRAM-SHA-512 as crier", s.String())
	require.NotContains(t, s.String(), "hunter2")
	require.Equal(t, "PLAINTEXT", kafkaconn.Security{}.String())
}

func TestNewReadsTLSFiles(t *testing.T) {
	t.Parallel()
	_, err := kafkaconn.New(kafkaconn.Security{TLS: true, TLSCAFile: t.TempDir() + "/missing.pem"})
	require.ErrorContains(t, err, "KAFKA_TLS_CA_FILE")
	link, err := kafkaconn.New(kafkaconn.Security{TLS: true, TLSServerName: "kafka.internal"})
	require.NoError(t, err)
	require.Equal(t, "kafka.internal", link.Dialer.TLS.ServerName)
	require.Same(t, link.Dialer.TLS, link.Transport.TLS, "readers and the writer verify the brokers alike")
	require.False(t, link.Dialer.TLS.InsecureSkipVerify)
}

// scramBundle is a topic on the test broker's SCRAM listener, created by
// Crier's own link as the crier user.
type scramBundle struct {
	ctx   context.Context
	scram testenv.KafkaSCRAM
	topic string
	crier kafkaconn.Link
}

func setupSCRAM(t *testing.T) *scramBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	tb := &scramBundle{ctx: ctx, scram: testenv.KafkaSCRAMListener(t), topic: testenv.Name("scram")}
	tb.crier = tb.link(t, kafkaconn.ScramSHA512, tb.scram.Crier)
	client := &kafka.Client{Addr: kafka.TCP(tb.scram.Brokers...), Timeout: 10 * time.Second, Transport: tb.crier.Transport}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: tb.topic, NumPartitions: 1, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, resp.Errors[tb.topic], "crier may create topics")
	return tb
}

func (tb *scramBundle) link(t *testing.T, mechanism string, user testenv.SCRAMUser) kafkaconn.Link {
	t.Helper()
	link, err := kafkaconn.New(kafkaconn.Security{SASLMechanism: mechanism, SASLUsername: user.Username, SASLPassword: user.Password})
	require.NoError(t, err)
	return link
}

// produce writes one message through link's transport, as the relay does,
// and returns the message's own error when the write was refused.
func (tb *scramBundle) produce(link kafkaconn.Link, value string) error {
	w := &kafka.Writer{Addr: kafka.TCP(tb.scram.Brokers...), Topic: tb.topic, Transport: link.Transport,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, MaxAttempts: 1}
	defer w.Close()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	err := w.WriteMessages(ctx, kafka.Message{Value: []byte(value)})
	if perMessage, ok := errors.AsType[kafka.WriteErrors](err); ok && len(perMessage) == 1 {
		return perMessage[0]
	}
	return err
}

// consume reads the topic from the start in a consumer group through link's
// dialer, as the audience materializer does, until it has n messages.
func (tb *scramBundle) consume(t *testing.T, link kafkaconn.Link, n int) []string {
	t.Helper()
	_, err := kafkatopic.Partitions(tb.ctx, link.Dialer, tb.scram.Brokers, tb.topic, testenv.Logger(t))
	require.NoError(t, err)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: tb.scram.Brokers, Topic: tb.topic, GroupID: testenv.Name("scram-group"),
		Dialer: link.Dialer, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var values []string
	for len(values) < n {
		m, err := r.ReadMessage(tb.ctx)
		require.NoError(t, err)
		values = append(values, string(m.Value))
	}
	return values
}

// lastOffset is how many messages the topic holds, asked as crier.
func (tb *scramBundle) lastOffset(t *testing.T) int64 {
	t.Helper()
	conn, err := tb.crier.Dialer.DialLeader(tb.ctx, "tcp", tb.scram.Brokers[0], tb.topic, 0)
	require.NoError(t, err)
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	require.NoError(t, err)
	return last
}

func TestCrierProducesAndConsumesThroughSCRAM(t *testing.T) {
	t.Parallel()
	tb := setupSCRAM(t)
	for _, mechanism := range []string{kafkaconn.ScramSHA512, kafkaconn.ScramSHA256} {
		require.NoError(t, tb.produce(tb.link(t, mechanism, tb.scram.Crier), "via "+mechanism))
	}
	require.Equal(t, []string{"via SCRAM-SHA-512", "via SCRAM-SHA-256"}, tb.consume(t, tb.crier, 2))
}

func TestSCRAMListenerRefusesWhoIsNotCrier(t *testing.T) {
	t.Parallel()
	tb := setupSCRAM(t)
	require.NoError(t, tb.produce(tb.crier, "from crier"))

	plaintext, err := kafkaconn.New(kafkaconn.Security{})
	require.NoError(t, err)
	require.Error(t, tb.produce(plaintext, "forged, no credentials"), "a client without credentials is refused")
	_, err = plaintext.Dialer.DialLeader(tb.ctx, "tcp", tb.scram.Brokers[0], tb.topic, 0)
	require.Error(t, err, "it cannot even read metadata")

	wrong := tb.link(t, kafkaconn.ScramSHA512, testenv.SCRAMUser{Username: tb.scram.Crier.Username, Password: tb.scram.Crier.Password + "x"})
	err = tb.produce(wrong, "forged, wrong password")
	require.ErrorIs(t, err, kafka.SASLAuthenticationFailed, "a wrong password fails authentication")

	reader := tb.link(t, kafkaconn.ScramSHA512, tb.scram.Reader)
	err = tb.produce(reader, "forged, no ACL")
	require.ErrorIs(t, err, kafka.TopicAuthorizationFailed, "a user without the Write ACL is refused")
	require.Equal(t, []string{"from crier"}, tb.consume(t, reader, 1), "the reader authenticates and may read")

	require.EqualValues(t, 1, tb.lastOffset(t), "only crier's message reached the topic")
}
