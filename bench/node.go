package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// NodeConfig is one crier process for a benchmark.
type NodeConfig struct {
	// Binary is the crier executable. Required.
	Binary string
	// Command is what it runs: "all" (the default), "api", "worker" or
	// "relay". A worker or relay serves no API: it listens for /metrics and
	// /healthz instead (CRIER_METRICS_ADDR), and is ready when that answers.
	Command string
	// DatabaseURL is its own (migrated) database. Required.
	DatabaseURL string
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// TemporalAddress is the Temporal frontend. Required.
	TemporalAddress string
	// Topic and TaskQueue are its own for this benchmark. Required.
	Topic, TaskQueue string
	// NodeID is CRIER_NODE_ID. Default "crierbench".
	NodeID string
	// Env are further settings (KEY=value), after and over the ones above.
	Env []string
	// Log receives its output; or else LogPath names a file for it.
	// Default: discarded.
	Log     io.Writer
	LogPath string
}

// Node is a crier process started by StartNode.
type Node struct {
	// URL is the API's base URL, http://127.0.0.1:PORT.
	URL    string
	name   string
	cmd    *exec.Cmd
	exited chan error
	ready  string // the path that answers 200 once the process is ready
}

// StartNode starts a crier process on loopback, in development mode with
// the benchmark's services, and waits until it is ready.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	cfg.Command = cmp.Or(cfg.Command, "all")
	if cfg.Log == nil && cfg.LogPath == "" {
		cfg.Log = io.Discard
	}
	addr, err := freeAddr(ctx)
	if err != nil {
		return nil, err
	}
	listen, ready := "CRIER_HTTP_ADDR", "/readyz"
	if cfg.Command == "worker" || cfg.Command == "relay" {
		listen, ready = "CRIER_METRICS_ADDR", "/healthz"
	}
	// The process outlives ctx, which only bounds the start: Close stops it
	// with SIGTERM, as an operator would, where ctx would kill it.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), cfg.Binary, cfg.Command) //nolint:gosec // G204: the binary is the bench's -crier flag, run without a shell
	cmd.Env = append(os.Environ(),
		"CRIER_ENV=development", "CRIER_ENV_FILE="+os.DevNull,
		"DATABASE_URL="+cfg.DatabaseURL, "KAFKA_BROKERS="+strings.Join(cfg.Brokers, ","),
		"TEMPORAL_ADDRESS="+cfg.TemporalAddress,
		"CRIER_KAFKA_TOPIC="+cfg.Topic, "CRIER_TASK_QUEUE="+cfg.TaskQueue,
		listen+"="+addr, "CRIER_NODE_ID="+cmp.Or(cfg.NodeID, "crierbench"),
		"CRIER_LOG_LEVEL="+envOr("CRIER_LOG_LEVEL", "warn"), "OTEL_SDK_DISABLED=true",
	)
	cmd.Env = append(cmd.Env, cfg.Env...)
	var logFile *os.File
	if cfg.LogPath != "" {
		if logFile, err = os.Create(cfg.LogPath); err != nil {
			return nil, err
		}
		cfg.Log = logFile
	}
	cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
	n := &Node{URL: "http://" + addr, name: "crier " + cfg.Command, cmd: cmd, exited: make(chan error, 1), ready: ready}
	if cfg.LogPath != "" {
		n.name += " (log " + cfg.LogPath + ")"
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			_ = logFile.Close() // empty: the process never started
		}
		return nil, fmt.Errorf("start %s %s: %w", cfg.Binary, cfg.Command, err)
	}
	go func() {
		err := cmd.Wait()
		if logFile != nil {
			// The log is for a person reading it after a failure; one
			// that could not be finished is no reason to fail the run.
			_ = logFile.Close()
		}
		n.exited <- err
	}()
	if err := n.waitReady(ctx, 90*time.Second); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// PID is the process id, for reading its memory and CPU from /proc.
func (n *Node) PID() int { return n.cmd.Process.Pid }

func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-n.exited:
			n.exited <- err
			return fmt.Errorf("%s exited before it was ready: %w (see its log)", n.name, err)
		default:
		}
		resp, err := get(ctx, n.URL+n.ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", n.ready, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s: %w", n.name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close stops the process with SIGTERM, as an operator would, and kills it
// if it has not stopped within its shutdown timeout and some.
func (n *Node) Close() error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		n.exited <- err // a second Close returns at once
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30 s of SIGTERM; killed", n.name)
	}
}

// Signal sends sig to the process (SIGTERM to stop it as an operator
// would, SIGKILL to crash it) and returns at once; Wait tells when it ended.
func (n *Node) Signal(sig os.Signal) error {
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", n.name, err)
	}
	return nil
}

// Wait waits up to timeout for the process to end and returns how it
// ended: nil for a clean exit, the *exec.ExitError of a signal or a
// failure. It may be called again, and after Close.
func (n *Node) Wait(timeout time.Duration) error {
	select {
	case err := <-n.exited:
		n.exited <- err
		return err
	case <-time.After(timeout):
		return fmt.Errorf("%s still runs after %s", n.name, timeout)
	}
}

// Running reports whether the process has not ended yet.
func (n *Node) Running() bool {
	select {
	case err := <-n.exited:
		n.exited <- err
		return false
	default:
		return true
	}
}

// Kill crashes the process with SIGKILL and waits until it is gone: no
// shutdown work runs, as when a machine dies.
func (n *Node) Kill() error {
	if err := n.Signal(syscall.SIGKILL); err != nil && n.Running() {
		return err
	}
	if err := n.Wait(10 * time.Second); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
	}
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// freeAddr is a loopback address with a port free now, for crier to listen
// on; the listener that found it is closed so that crier can take it.
func freeAddr(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("free port %s: %w", addr, err)
	}
	return addr, nil
}
