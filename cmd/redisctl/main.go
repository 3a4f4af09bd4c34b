// Command redisctl turns three Linux hosts into a Redis master, two
// replicas and a Sentinel on each, over SSH. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redisctl/redisctl/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
