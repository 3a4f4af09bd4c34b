// Command redisctl turns three Linux hosts into a Redis master, two
// replicas and a Sentinel on each, over SSH. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9/logging"

	"github.com/redisctl/redisctl/cmd"
)

func main() {
	// go-redis has one logger for the whole process and none per client,
	// and by default it writes to stderr, through redisctl's own output.
	// It is silenced once, here: redisctl reports every failure as an
	// error, and a hook on each client it opens records failed dials and
	// commands in the command's debug log.
	logging.Disable()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
