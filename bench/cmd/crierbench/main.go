package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/crier/crier/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop() // not deferred: os.Exit would skip it
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "crierbench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags; each defaults from the environment.
type options struct {
	crier, out, stateDir, command, temporalCLI, kafkaPOM string
	temporalServer                                       string
	serverMaxBurst                                       int
	only                                                 string
	scenarios                                            []string
	runs, largeRuns                                      int
	sizes                                                []int
	budget, pollInterval                                 time.Duration
	seed                                                 int64
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("crierbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", envOr("BENCH_SIZES", "1,1000,10000"), "burst sizes N, comma-separated (env BENCH_SIZES)")
	fs.StringVar(&o.crier, "crier", "bin/crier", "the crier binary to run as `crier all`")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	fs.StringVar(&o.stateDir, "state", ".bench", "folder for crier's log")
	fs.StringVar(&o.command, "command", "go run ./cmd/crierbench", "the command to show in the report")
	fs.StringVar(&o.temporalCLI, "temporal-cli", ".tools/bin/temporal", "the Temporal CLI, for its version")
	fs.StringVar(&o.kafkaPOM, "kafka-pom", "tools/kafka/pom.xml", "the pom pinning Kafka's version")
	fs.StringVar(&o.temporalServer, "temporal-server", "", "address of a production-shaped Temporal (the server on PostgreSQL) to run Crier's burst on too")
	fs.IntVar(&o.serverMaxBurst, "server-max-burst", envInt("BENCH_SERVER_MAX_BURST", 1000), "largest burst run on -temporal-server (env BENCH_SERVER_MAX_BURST)")
	fs.StringVar(&o.only, "only", "", "run only this system: crier, naive or poller (for diagnosis; the report then lacks ratios)")
	fs.IntVar(&o.runs, "runs", envInt("BENCH_RUNS", 2), "repetitions of each scenario (env BENCH_RUNS)")
	fs.IntVar(&o.largeRuns, "large-runs", envInt("BENCH_LARGE_RUNS", 1), "repetitions of bursts of N ≥ 10,000, minutes each (env BENCH_LARGE_RUNS)")
	fs.DurationVar(&o.budget, "budget", 18*time.Minute, "time allowed for the scenarios; what does not fit is skipped")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Minute, "the poller baseline's period")
	fs.Int64Var(&o.seed, "seed", time.Now().UnixNano()%1e6, "seed of the poller's random phases")
	scenarios := fs.String("scenarios", envOr("BENCH_SCENARIOS", strings.Join(scenarioNames(), ",")),
		"scenarios to run, comma-separated, from "+strings.Join(scenarioNames(), ", ")+" (env BENCH_SCENARIOS)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, name := range strings.Split(*scenarios, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(scenarioNames(), name) {
			return o, fmt.Errorf("-scenarios: %q is not one of %s", name, strings.Join(scenarioNames(), ", "))
		}
		o.scenarios = append(o.scenarios, name)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-sizes: %q is not a positive whole number", s)
		}
		o.sizes = append(o.sizes, n)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dbURL, brokers, temporalAddr := os.Getenv("DATABASE_URL"), os.Getenv("KAFKA_BROKERS"), os.Getenv("TEMPORAL_ADDRESS")
	if dbURL == "" || brokers == "" || temporalAddr == "" || brokers == "embedded" {
		return errors.New("DATABASE_URL, KAFKA_BROKERS (a real broker) and TEMPORAL_ADDRESS must name running services; `make bench` starts them")
	}
	// The products' own logs matter only when something goes wrong.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "==> bench: "+format+"\n", args...) }

	env, err := setUp(ctx, o, dbURL, strings.Split(brokers, ","), temporalAddr, logger, say)
	if err != nil {
		return err
	}
	defer env.close(say)

	systems := env.systems
	if o.only != "" {
		keep := map[string]int{"crier": 0, "naive": 1, "poller": 2, "crierpg": 3}
		i, ok := keep[o.only]
		if !ok || i >= len(env.systems) {
			return fmt.Errorf("-only: %q is not crier, naive, poller or crierpg (with -temporal-server)", o.only)
		}
		systems = env.systems[i : i+1]
	}
	deadline := time.Now().Add(o.budget)
	var others []bench.Scenario
	var reserve time.Duration
	for _, s := range allScenarios() {
		if slices.Contains(o.scenarios, s.Name()) {
			others = append(others, s)
			reserve += s.Estimate(o.runs)
		}
	}
	var outcome bench.Outcome
	if slices.Contains(o.scenarios, "burst") {
		say("burst: sizes %v, %d run(s) each, within %s (%s kept for the other scenarios)", o.sizes, o.runs,
			(o.budget - reserve).Round(time.Second), reserve.Round(time.Second))
		runner := bench.NewRunner(bench.Config{Sizes: o.sizes, Runs: o.runs, LargeRuns: o.largeRuns, Budget: o.budget - reserve, Brokers: env.brokers,
			Progress: stderr}, systems...)
		outcome = runner.Run(ctx)
	}
	// The burst's systems go before the other scenarios start, with whatever
	// they still had running (the naive workflow's stragglers, say).
	env.closeSystems(say)
	benv := bench.Env{DatabaseURL: dbURL, Brokers: env.brokers, TemporalAddress: temporalAddr, Temporal: env.temporal,
		CrierBinary: o.crier, StateDir: o.stateDir, ID: env.id, Runs: o.runs, Logger: logger, Say: say}
	sections, skipped := bench.RunScenarios(ctx, benv, deadline, others, stderr)
	outcome.Skipped = append(outcome.Skipped, skipped...)
	if ctx.Err() != nil {
		return errors.New("interrupted; BENCHMARKS.md left as it was")
	}
	for _, s := range outcome.Skipped {
		say("skipped: %s", s)
	}
	report := bench.Report{
		Outcome: outcome, Scenarios: sections, Command: o.command, PollInterval: o.pollInterval, Seed: o.seed,
		Machine: bench.DescribeMachine(ctx, bench.MachineConfig{TemporalCLI: o.temporalCLI, KafkaPOM: o.kafkaPOM, DatabaseURL: dbURL, RepoDir: "."}),
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if err := report.WriteMarkdown(f); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	say("wrote %s (%d runs, %d skipped) in %s", o.out, len(outcome.Results), len(outcome.Skipped), outcome.Stopped.Sub(outcome.Started).Round(time.Second))
	return nil
}

// benchEnv is the three systems and what they run on.
type benchEnv struct {
	id       string
	brokers  []string
	temporal client.Client
	systems  []bench.System
	crierLog *os.File
	// server and serverLog are for Crier on the Temporal server on
	// PostgreSQL, when -temporal-server is given.
	server    client.Client
	serverLog *os.File
}

func setUp(ctx context.Context, o options, dbURL string, brokers []string, temporalAddr string, logger *slog.Logger,
	say func(string, ...any)) (*benchEnv, error) {
	id := time.Now().UTC().Format("20060102_150405")
	names := map[string]string{}
	for _, sys := range []string{"crier", "naive", "poller", "crierpg"} {
		names[sys] = "bench_" + sys + "_" + id
	}
	env := &benchEnv{id: id, brokers: brokers}
	ok := false
	defer func() {
		if !ok {
			env.close(say)
		}
	}()
	topic := func(sys string) string { return strings.ReplaceAll(names[sys], "_", "-") }
	urls, err := createStores(ctx, o.crier, dbURL, brokers, names, topic)
	if err != nil {
		return nil, err
	}
	say("databases and topics bench_{crier,naive,poller}_%s ready", id)

	env.temporal, err = client.DialContext(ctx, client.Options{HostPort: temporalAddr,
		Logger: tlog.NewStructuredLogger(logger.With("component", "temporal"))})
	if err != nil {
		return nil, fmt.Errorf("reach Temporal at %s: %w", temporalAddr, err)
	}
	if err := os.MkdirAll(o.stateDir, 0o750); err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.stateDir, "crier.log")
	if env.crierLog, err = os.Create(logPath); err != nil { //nolint:gosec // G304: the folder is the -state flag's, crier's log is ours to write
		return nil, err
	}
	say("starting crier all (%s; log %s)", o.crier, logPath)
	crier, err := bench.StartCrier(ctx, bench.CrierConfig{Binary: o.crier, DatabaseURL: urls["crier"], Brokers: brokers,
		TemporalAddress: temporalAddr, Temporal: env.temporal, Topic: topic("crier"), TaskQueue: topic("crier"), Log: env.crierLog,
		Reader: true})
	if err != nil {
		return nil, err
	}
	env.systems = append(env.systems, crier)
	naive, err := bench.StartNaive(ctx, bench.NaiveConfig{DatabaseURL: urls["naive"], Brokers: brokers, Temporal: env.temporal,
		Topic: topic("naive"), TaskQueue: topic("naive"), Logger: logger})
	if err != nil {
		return nil, err
	}
	env.systems = append(env.systems, naive)
	rng := rand.New(rand.NewPCG(uint64(o.seed), 0)) //nolint:gosec // G404, G115: reproducible from -seed, as crypto/rand cannot be; a negative seed's bits seed as well
	poller, err := bench.StartPoller(ctx, bench.PollerConfig{DatabaseURL: urls["poller"], Brokers: brokers, Topic: topic("poller"),
		Interval: o.pollInterval, Logger: logger,
		Phase: func() time.Duration { return time.Duration(rng.Int64N(int64(o.pollInterval))) }})
	if err != nil {
		return nil, err
	}
	env.systems = append(env.systems, poller)
	if o.temporalServer != "" {
		env.server, err = client.DialContext(ctx, client.Options{HostPort: o.temporalServer,
			Logger: tlog.NewStructuredLogger(logger.With("component", "temporal"))})
		if err != nil {
			return nil, fmt.Errorf("reach the Temporal server at %s: %w", o.temporalServer, err)
		}
		if env.serverLog, err = os.Create(filepath.Join(o.stateDir, "crier-temporal-server.log")); err != nil {
			return nil, err
		}
		say("starting crier all on the Temporal server on PostgreSQL (%s)", o.temporalServer)
		crierPG, err := bench.StartCrier(ctx, bench.CrierConfig{Name: bench.CrierOnServer, Binary: o.crier,
			DatabaseURL: urls["crierpg"], Brokers: brokers, TemporalAddress: o.temporalServer, Temporal: env.server,
			Topic: topic("crierpg"), TaskQueue: topic("crierpg"), Log: env.serverLog, MaxBurst: o.serverMaxBurst})
		if err != nil {
			return nil, err
		}
		env.systems = append(env.systems, crierPG)
	}
	ok = true
	return env, nil
}

// createStores makes each system's database (named by names) and topic
// (named by topic), and returns the databases' URLs by system.
func createStores(ctx context.Context, crierBinary, dbURL string, brokers []string, names map[string]string,
	topic func(sys string) string) (map[string]string, error) {
	urls := map[string]string{}
	for sys, name := range names {
		u, err := bench.CreateDatabase(ctx, crierBinary, dbURL, name)
		if err != nil {
			return nil, err
		}
		urls[sys] = u
		if err := bench.CreateTopic(ctx, brokers, topic(sys)); err != nil {
			return nil, err
		}
	}
	return urls, nil
}

func (e *benchEnv) closeSystems(say func(string, ...any)) {
	for i := len(e.systems) - 1; i >= 0; i-- {
		if err := e.systems[i].Close(); err != nil {
			say("stopping %s: %v", e.systems[i].Name(), err)
		}
	}
	e.systems = nil
}

func (e *benchEnv) close(say func(string, ...any)) {
	e.closeSystems(say)
	if e.temporal != nil {
		e.temporal.Close()
		e.temporal = nil
	}
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	for _, f := range []**os.File{&e.crierLog, &e.serverLog} {
		if *f != nil {
			if err := (*f).Close(); err != nil {
				say("closing crier's log: %v", err)
			}
			*f = nil
		}
	}
}

// allScenarios are the scenarios besides the burst, in the order they run.
func allScenarios() []bench.Scenario {
	return []bench.Scenario{bench.Creation(), bench.Relay(), bench.Inbox(), bench.Fanout()}
}

func scenarioNames() []string {
	names := []string{"burst"}
	for _, s := range allScenarios() {
		names = append(names, s.Name())
	}
	return names
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return fallback
}
