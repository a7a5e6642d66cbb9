package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/bench/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop() // not deferred: os.Exit would skip it
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "crierchaos:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	crier, out, stateDir, command, temporalCLI, kafkaPOM string
	scripts, postgresDir, kafkaDir, temporalDir          string
	temporalUIPort, burst, replication                   int
	budget, soak, holdFault, expiryFault                 time.Duration
	scenarios                                            []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("crierchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.crier, "crier", "bin/crier", "the crier binary")
	fs.StringVar(&o.out, "out", "CHAOS.md", "report to write")
	fs.StringVar(&o.stateDir, "state", ".chaos", "folder for the crier processes' logs")
	fs.StringVar(&o.command, "command", "go run ./cmd/crierchaos", "the command to show in the report")
	fs.StringVar(&o.temporalCLI, "temporal-cli", ".tools/bin/temporal", "the Temporal CLI, for its version")
	fs.StringVar(&o.kafkaPOM, "kafka-pom", "tools/kafka/pom.xml", "the pom pinning Kafka's version")
	fs.StringVar(&o.scripts, "scripts", "", "the project's scripts/ folder: with the service folders below, the faults that stop services run")
	fs.StringVar(&o.postgresDir, "postgres-dir", "", "scripts/postgres.sh's DIR of the PostgreSQL at DATABASE_URL")
	fs.StringVar(&o.kafkaDir, "kafka-dir", "", "scripts/kafka-cluster.sh's DIR of the cluster at KAFKA_BROKERS")
	fs.StringVar(&o.temporalDir, "temporal-dir", "", "scripts/temporal.sh's DIR of the server at TEMPORAL_ADDRESS")
	fs.IntVar(&o.temporalUIPort, "temporal-ui-port", 0, "the UI port scripts/temporal.sh was given (unused headless, but its argument)")
	fs.IntVar(&o.burst, "burst", 100, "broadcasts in each scenario's burst")
	fs.IntVar(&o.replication, "replication", 3, "replication of each scenario's topic")
	fs.DurationVar(&o.budget, "budget", 22*time.Minute, "time allowed for the scenarios; what does not fit is skipped")
	fs.DurationVar(&o.soak, "soak", 4*time.Minute, "length of the soak's traffic (0 skips the soak)")
	fs.DurationVar(&o.holdFault, "hold-fault", chaos.DefaultTiming.HoldFault, "how long before the due time a fault inside the hold strikes")
	fs.DurationVar(&o.expiryFault, "expiry-fault", chaos.DefaultTiming.ExpiryFault, "how long after the expiry time a fault during expiries strikes")
	names := scenarioNames()
	scenarios := fs.String("scenarios", strings.Join(names, ","), "scenarios to run, comma-separated, from "+strings.Join(names, ", "))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, name := range strings.Split(*scenarios, ",") {
		if name = strings.TrimSpace(name); !slices.Contains(names, name) {
			return o, fmt.Errorf("-scenarios: %q is not one of %s", name, strings.Join(names, ", "))
		}
		o.scenarios = append(o.scenarios, name)
	}
	return o, nil
}

func scenarioNames() []string {
	var names []string
	for _, s := range chaos.Scenarios() {
		names = append(names, s.Name)
	}
	return append(names, "soak")
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dbURL, brokers, temporalAddr := os.Getenv("DATABASE_URL"), os.Getenv("KAFKA_BROKERS"), os.Getenv("TEMPORAL_ADDRESS")
	if dbURL == "" || brokers == "" || temporalAddr == "" || brokers == "embedded" {
		return errors.New("DATABASE_URL, KAFKA_BROKERS (real brokers) and TEMPORAL_ADDRESS must name running services; `make chaos` starts them")
	}
	started := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(stderr, "==> chaos: [%6s] %s\n", time.Since(started).Round(time.Second), fmt.Sprintf(format, args...))
	}
	env := chaos.Env{CrierBinary: o.crier, DatabaseURL: dbURL, Brokers: strings.Split(brokers, ","), Replication: o.replication,
		TemporalAddress: temporalAddr, StateDir: o.stateDir, Burst: o.burst, Say: say,
		Timing: chaos.Timing{HoldFault: o.holdFault, ExpiryFault: o.expiryFault}}
	if env.Services, err = services(o, dbURL, temporalAddr); err != nil {
		return err
	}
	if env, err = env.WithDefaults(); err != nil {
		return err
	}
	var picked []chaos.Scenario
	for _, s := range chaos.Scenarios() {
		if slices.Contains(o.scenarios, s.Name) {
			picked = append(picked, s)
		}
	}
	if slices.Contains(o.scenarios, "soak") && o.soak > 0 {
		picked = append(picked, chaos.Soak(o.soak))
	}
	outcome := chaos.Run(ctx, env, picked, started.Add(o.budget))
	if ctx.Err() != nil {
		return errors.New("interrupted; CHAOS.md left as it was")
	}
	for _, s := range outcome.Skipped {
		say("skipped: %s", s)
	}
	report := chaos.Report{Outcome: outcome, Command: o.command, Env: env, Temporal: "dev server, state in a SQLite file",
		Machine: bench.DescribeMachine(ctx, bench.MachineConfig{TemporalCLI: o.temporalCLI, KafkaPOM: o.kafkaPOM,
			KafkaShape: "KRaft, three nodes, each broker and controller", DatabaseURL: dbURL, RepoDir: "."})}
	if err := writeReport(o.out, report); err != nil {
		return err
	}
	say("wrote %s (%d scenarios, %d skipped)", o.out, len(outcome.Results), len(outcome.Skipped))
	return nil
}

// services controls the services through the scripts when the flags name
// their folders; nil otherwise.
func services(o options, dbURL, temporalAddr string) (chaos.Services, error) {
	if o.scripts == "" {
		return nil, nil
	}
	if o.postgresDir == "" || o.kafkaDir == "" || o.temporalDir == "" {
		return nil, errors.New("-scripts needs -postgres-dir, -kafka-dir and -temporal-dir")
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	pgPort, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL has no port: %w", err)
	}
	_, tport, err := net.SplitHostPort(temporalAddr)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS: %w", err)
	}
	temporalPort, err := strconv.Atoi(tport)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS: %w", err)
	}
	if err := os.MkdirAll(o.stateDir, 0o750); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(o.stateDir, "services.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	// The log stays open for the whole run; the process's end closes it.
	return chaos.Scripts{Dir: o.scripts, PostgresDir: o.postgresDir, PostgresPort: pgPort, KafkaDir: o.kafkaDir,
		TemporalDir: o.temporalDir, TemporalPort: temporalPort, TemporalUIPort: o.temporalUIPort, Log: log}, nil
}

func writeReport(path string, r chaos.Report) error {
	f, err := os.Create(path) //nolint:gosec // G304: the -out flag's report
	if err != nil {
		return err
	}
	if err := r.WriteMarkdown(f); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}
